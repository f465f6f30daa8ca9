#!/usr/bin/env python3
"""The whole Sentinelle network on one machine, on an accelerated clock.

Started by scripts/demo.sh after setup and build. Runs a Mosquitto broker on
a free loopback port, the collector on its embedded SQLite, and N stations
(sentinelle-sim live -> sentinelle-agent, clock taken from the simulator),
shows a live view, then stops everything cleanly and prints a summary.

--check turns the demo into an end-to-end test: it exits non-zero when what a
user would look for is not there (every station reported, windows contiguous
and stored exactly once, nothing lost against the simulator's clock, the
injected faults visible).
"""
import argparse
import datetime as dt
import hashlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Each station is an agent and a simulator: beyond ten, a 2-core machine falls
# behind the accelerated clock.
MAX_STATIONS = 10
INTERVAL_S = 300


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def utc(ts):
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Proc:
    """A child process with its output in a log file."""

    def __init__(self, name, argv, log_path, stdin=None):
        self.name = name
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, stdin=stdin,
                                  start_new_session=True)

    def alive(self):
        return self.p.poll() is None

    def stop(self, timeout=15):
        if self.alive():
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()
        return self.p.returncode


def network(bin_dir, count):
    """The simulator's default network of `count` stations, one dict per station
    (id, name, latitude, longitude, type): the body that registers it with the
    collector, as an operator commissions stations. The monitor needs the
    coordinates to compare each station with its neighbours."""
    sim = os.path.join(bin_dir, "sentinelle-sim")
    try:
        out = subprocess.run([sim, "stations", "--stations", str(count)], check=True,
                             capture_output=True, text=True).stdout
    except FileNotFoundError:
        raise SystemExit(f"{sim} not found: build first (scripts/demo.sh builds, then runs "
                         "the demo)")
    except subprocess.CalledProcessError as e:
        raise SystemExit(f"{sim} stations failed: {e.stderr.strip()}")
    return [json.loads(line) for line in out.splitlines()]


class Demo:
    def __init__(self, args):
        self.args = args
        self.bin = os.path.join(args.build_dir, "bin")
        # Asked before the last run's work directory is wiped: a missing
        # simulator binary then leaves the last run's logs in place.
        self.network = network(self.bin, args.stations)
        self.stations = [st["id"] for st in self.network]
        self.work = os.path.abspath(args.workdir)
        if os.path.exists(self.work):
            shutil.rmtree(self.work)
        os.makedirs(self.work)
        self.procs = []
        self.token = secrets.token_hex(16)
        self.station_token = secrets.token_hex(16)  # viewer: agents download models with it
        self.job = None            # the first training job's id
        self.job_state = "-"
        self.promoted = []         # versions the demo promoted to production
        self.refused = []          # versions the gate kept in candidate
        self.retrain_jobs = {}     # alarm-triggered job id -> its last state
        self.shadowed = {}         # retrained version -> stations it is shadowed on
        self.http_port = free_port()
        self.broker_port = free_port()
        # Simulated time: the live phase ends about now, so nothing is "in the future".
        live_span_s = int(args.duration * args.speed)
        now = int(time.time()) // INTERVAL_S * INTERVAL_S
        self.live_start = now - live_span_s - 3600
        self.history_start = self.live_start - args.history_days * 86400
        self.failures = []

    # ---------------------------------------------------------------- helpers
    def path(self, *parts):
        return os.path.join(self.work, *parts)

    def start(self, name, argv, stdin=None):
        p = Proc(name, argv, self.path(name + ".log"), stdin)
        self.procs.append(p)
        return p

    def api(self, path, body=None):
        """GET (or POST with a JSON body) on the collector's API; None when it fails."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": "Bearer " + self.token}
        if data is not None:
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}", data=data,
                                     headers=headers, method="GET" if data is None else "POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.loads(r.read().decode())
        except urllib.error.HTTPError as e:
            try:
                return {"error": json.loads(e.read().decode()), "status": e.code}
            except ValueError:
                return {"error": str(e), "status": e.code}
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def api_raw(self, path):
        req = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}",
                                     headers={"Authorization": "Bearer " + self.token})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.read()
        except (urllib.error.URLError, OSError):
            return None

    def alarms(self, active=None):
        q = "" if active is None else f"&active={'true' if active else 'false'}"
        return (self.api(f"/api/v1/alarms?limit=1000{q}") or {}).get("alarms", [])

    def wait_port(self, port, proc, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not proc.alive():
                raise SystemExit(f"{proc.name} exited; see {proc.log_path}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.1)
        raise SystemExit(f"{proc.name} did not open port {port}; see {proc.log_path}")

    def check(self, ok, what):
        print(("  ok    " if ok else "  FAIL  ") + what)
        if not ok:
            self.failures.append(what)

    # ----------------------------------------------------------------- phases
    def start_broker(self):
        conf = self.path("mosquitto.conf")
        # Started as root, mosquitto would drop to its own user and could not
        # write its database into this work directory; it stays the invoking
        # user instead (as any other user the line changes nothing).
        user = pwd.getpwuid(os.geteuid()).pw_name
        with open(conf, "w") as f:
            f.write(f"listener {self.broker_port} 127.0.0.1\nallow_anonymous true\n"
                    f"user {user}\n"
                    f"persistence true\npersistence_location {self.work}/\n"
                    "max_queued_messages 100000\nlog_dest stdout\n")
        p = self.start("mosquitto", ["/usr/sbin/mosquitto", "-c", conf])
        self.wait_port(self.broker_port, p)

    def history(self):
        """Weeks of past readings, imported so the collector has history from the start."""
        if self.args.history_days <= 0:
            return
        csv = self.path("history.csv")
        subprocess.run([os.path.join(self.bin, "sentinelle-sim"), "generate",
                        "--stations", str(len(self.stations)), "--start", utc(self.history_start),
                        "--hours", str(self.args.history_days * 24), "--seed", "7",
                        # window means of 10 s sensor samples, as the agents make them live
                        "--sample-s", "10",
                        "--out", csv], check=True, stdout=subprocess.DEVNULL)
        out = subprocess.run([os.path.join(self.bin, "sentinelle-collector"), "--config",
                              self.path("collector.json"), "import", csv],
                             check=True, capture_output=True, text=True)
        print("  history: " + out.stdout.strip())

    def collector_config(self):
        cfg = {
            "store": {"path": self.path("collector.db"), "synchronous": "NORMAL"},
            "mqtt": {"uri": f"tcp://127.0.0.1:{self.broker_port}",
                     "client_id": "sentinelle-collector-demo"},
            "http": {"listen": f"127.0.0.1:{self.http_port}",
                     "tokens": [{"name": "demo", "role": "admin",
                                 "sha256": hashlib.sha256(self.token.encode()).hexdigest()},
                                {"name": "stations", "role": "viewer",
                                 "sha256": hashlib.sha256(self.station_token.encode())
                                 .hexdigest()}]},
            # Models: trained from the imported history on demand (the demo asks
            # for the first job), signed with a key the collector creates on
            # first start, served to the agents by this HTTP API.
            "training": {"schedule_interval_s": 0, "min_train_rows": 150,
                         "min_validation_rows": 40,
                         "xgboost": {"num_rounds": 60, "early_stopping_rounds": 8}},
            # Retrained models go to shadow (the demo asks, as an operator
            # would); the accuracy gate decides every 2 s, once 144 live
            # pairs (half a simulated day at one station) are in.
            "models": {"dir": self.path("models"),
                       "public_url": f"http://127.0.0.1:{self.http_port}",
                       "rollout_check_interval_s": 2, "min_live_samples": 144},
            # Simulated stations run in the past on an accelerated clock: their
            # windows are legitimately far behind the collector's wall clock.
            "ingest": {"clock_tolerance_s": int(self.args.duration * self.args.speed) + 2 * 86400},
            # The monitor follows the network's own (simulated) time: one pass
            # per simulated hour, alarms after six bad passes, a retraining
            # per target at most once per simulated day.
            # The registry is checked every 5 s for new production models
            # (their reference histograms are what drift is measured against).
            "monitoring": {"clock": "data", "evaluate_interval_s": 3600,
                           "reference_refresh_s": 5,
                           "drift_window_days": getattr(self.args, "drift_window_days", 14)},
            "log": {"level": "info"},
        }
        with open(self.path("collector.json"), "w") as f:
            json.dump(cfg, f, indent=2)

    def start_collector(self):
        p = self.start("collector", [os.path.join(self.bin, "sentinelle-collector"), "--config",
                                     self.path("collector.json"), "run"])
        self.wait_port(self.http_port, p)

    def start_stations(self):
        faults = {}
        if len(self.stations) >= 2 and not self.args.no_faults:
            # A calibration drift at one station, a stuck sensor at another.
            span = self.args.duration * self.args.speed
            faults[self.stations[1]] = [
                f"drift,vars=o3,per_day=40,start={utc(self.live_start + int(span * 0.05))},"
                f"end={utc(self.live_start + int(span) + 86400)}"]
            faults[self.stations[0]] = [
                f"stuck,vars=no2,start={utc(self.live_start + int(span * 0.5))},"
                f"end={utc(self.live_start + int(span * 0.5) + 6 * 3600)}"]
        # A regime change across the city: traffic grows and its peaks move.
        self.regime_at = None
        if not self.args.no_regime:
            self.regime_at = self.live_start + int(self.args.duration * self.args.speed *
                                                   self.args.regime_at)
        self.metrics_ports = {}
        for sid in self.stations:
            os.makedirs(self.path(sid), exist_ok=True)
            in_port, m_port = free_port(), free_port()
            self.metrics_ports[sid] = m_port
            cfg = {
                "station_id": sid,
                "clock": {"source": "input"},
                "input": {"kind": "tcp", "tcp_port": in_port},
                "store": {"path": self.path(sid, "agent.db"), "synchronous": "NORMAL"},
                "mqtt": {"uri": f"tcp://127.0.0.1:{self.broker_port}",
                         "client_id": "sentinelle-agent-" + sid, "status_interval_s": 5},
                "metrics": {"listen": f"127.0.0.1:{m_port}"},
                "prediction": {"model_dir": self.path(sid, "models")},
                "updater": {"public_key_file": self.path("models", "signing.pub"),
                            "model_dir": self.path(sid, "models"),
                            "download_token": self.station_token,
                            "retry_delay_ms": 1000},
                "log": {"level": "info"},
            }
            os.makedirs(self.path(sid, "models"), exist_ok=True)
            cfg_path = self.path(sid, "agent.json")
            with open(cfg_path, "w") as f:
                json.dump(cfg, f, indent=2)
            agent = self.start("agent-" + sid, [os.path.join(self.bin, "sentinelle-agent"),
                                                "--config", cfg_path])
            self.wait_port(in_port, agent)
            argv = [os.path.join(self.bin, "sentinelle-sim"), "live", "--station", sid,
                    "--to", f"tcp:127.0.0.1:{in_port}", "--speed", str(self.args.speed),
                    "--start", utc(self.live_start), "--seed", "7",
                    "--hours", str(self.args.duration * self.args.speed / 3600.0),
                    "--truth-log", self.path(sid, "truth.jsonl")]
            for spec in faults.get(sid, []):
                argv += ["--fault", spec + f",station={sid}"]
            if self.regime_at is not None:
                argv += ["--regime", f"traffic,station=*,at={utc(self.regime_at)},factor=3,"
                         "peak_shift_h=2"]
            self.start("sim-" + sid, argv)

    # --------------------------------------------------------------- training
    def register_stations(self):
        for st in self.network:
            r = self.api("/api/v1/stations", st)
            if r is None or "error" in r:
                raise SystemExit(f"registering {st['id']} failed: {r}")

    def start_training(self):
        """The first models: one job over the imported history (network, station and
        linear models for every default target and horizon)."""
        if self.args.history_days <= 0 or self.args.no_models:
            return
        r = self.api("/api/v1/train", {}) or {}
        self.job = r.get("job")
        if not self.job:
            self.failures.append(f"training request refused: {r}")

    def poll_training(self):
        """Follows the job; when it is done, promotes what passed the skill gate."""
        if not self.job or self.job_state in ("succeeded", "failed"):
            return
        j = self.api(f"/api/v1/jobs/{self.job}") or {}
        state = j.get("state", "?")
        prog = j.get("progress", {})
        self.job_state = state
        self.job_progress = f"{prog.get('done', 0)}/{prog.get('total', 0)} {prog.get('step', '')}"
        if state == "failed":
            self.failures.append(f"training job failed: {j.get('message')}")
        if state != "succeeded":
            return
        for v in j.get("versions", []):
            r = self.api(f"/api/v1/models/{v}/promote",
                         {"stage": "production", "reason": "demo: first models"}) or {}
            (self.refused if "error" in r else self.promoted).append(v)

    def wait_training(self, timeout=900):
        """Stations start once the first models exist, so they move from the fallback
        chain to the distributed models in their first minutes."""
        if not self.job:
            return
        deadline = time.time() + timeout
        last = ""
        while time.time() < deadline and self.job_state not in ("succeeded", "failed"):
            self.poll_training()
            line = f"  training {self.job}: {self.job_state} {getattr(self, 'job_progress', '')}"
            if line != last:
                print(line, flush=True)
                last = line
            time.sleep(1)
        if self.job_state != "succeeded":
            self.failures.append(f"training job {self.job} ended {self.job_state}")
            return
        print(f"  first models: {len(self.promoted)} promoted to production, "
              f"{len(self.refused)} kept as candidates by the skill gate", flush=True)

    def poll_retraining(self):
        """Follows the retraining the monitor asks for (trigger `alarm`); when a job
        is done, puts its new XGBoost versions that passed the skill gate in
        shadow, as an operator would (a station model on its own station, a
        network model on two stations). The collector's accuracy gate then
        promotes or rolls back each one from the live shadow answers."""
        jobs = (self.api("/api/v1/jobs") or {}).get("jobs", [])
        for j in jobs:
            if (j.get("trigger") or {}).get("kind") != "alarm":
                continue
            jid, state = j.get("id"), j.get("state")
            if self.retrain_jobs.get(jid) == state:
                continue
            self.retrain_jobs[jid] = state
            if state != "succeeded":
                continue
            for v in j.get("versions", []):
                m = self.api(f"/api/v1/models/{v}") or {}
                if m.get("stage") != "candidate" or not (m.get("gate") or {}).get("passed"):
                    continue
                if m.get("kind") == "station":
                    stations = [m.get("station")]
                elif m.get("kind") == "network":
                    stations = self.stations[:2]
                else:
                    continue  # the linear fallback: kept as a candidate
                r = self.api(f"/api/v1/models/{v}/promote",
                             {"stage": "shadow", "stations": stations,
                              "reason": f"demo: retrained by {jid} after a monitoring alarm"})
                if r is not None and "error" not in r:
                    self.shadowed[v] = stations

    def rollout_outcomes(self):
        """For each shadowed version: what the accuracy gate decided, if it did."""
        out = {}
        for v in self.shadowed:
            m = self.api(f"/api/v1/models/{v}") or {}
            gate = [h for h in m.get("history", []) if h.get("by") == "accuracy-gate"]
            out[v] = (m.get("stage", "?"), gate[-1] if gate else None, m.get("family", "?"))
        return out

    def models_line(self):
        models = (self.api("/api/v1/models?limit=500") or {}).get("models", [])
        stages = {}
        for m in models:
            stages[m.get("stage", "?")] = stages.get(m.get("stage", "?"), 0) + 1
        top = max((m.get("version", 0) for m in models), default=0)
        job = f"job {self.job} {self.job_state}" if self.job else "no training job"
        if self.job and self.job_state in ("queued", "running"):
            job += f" ({getattr(self, 'job_progress', '')})"
        line = (f"models: {len(models)} registered, newest v{top}, " +
                ", ".join(f"{k} {v}" for k, v in sorted(stages.items())) + f"   {job}")
        # Rollout stage per family: its production version and, while a
        # rollout runs, the staged (shadow/canary) version and its stations.
        families = {}
        for m in models:
            if m.get("stage") not in ("production", "shadow", "canary"):
                continue
            fam = m.get("family") or "/".join(
                str(m.get(k, "?")) for k in ("target", "horizon_min", "kind"))
            families.setdefault(fam, {})[m["stage"]] = m
        staged = [(f, st) for f, st in sorted(families.items())
                  if "shadow" in st or "canary" in st]
        if self.retrain_jobs:
            line += ("\nretraining after alarms: " +
                     ", ".join(f"{j} {s}" for j, s in sorted(self.retrain_jobs.items())) +
                     f"; {len(self.shadowed)} retrained versions put in shadow")
        line += f"\nrollouts: {len(staged)} running"
        for fam, st in staged[:6]:
            s = st.get("canary") or st.get("shadow")
            prod = st.get("production")
            line += (f"\n  {fam:<28}{s['stage']:<8}v{s['version']} on "
                     f"{','.join(s.get('rollout_stations') or []) or '-'}   production "
                     f"{'v' + str(prod['version']) if prod else '-'}")
        return line

    # ------------------------------------------------------------------- view
    def latest_reading(self, station):
        end = station.get("last_window_end")
        if not end:
            return {}
        end_s = int(dt.datetime.strptime(end, "%Y-%m-%dT%H:%M:%SZ")
                    .replace(tzinfo=dt.timezone.utc).timestamp())
        r = self.api(f"/api/v1/stations/{station['id']}/readings?from={end_s}"
                     f"&to={end_s + 1}") or {}
        rows = r.get("readings", [])
        return rows[-1] if rows else {}

    @staticmethod
    def live_error(accuracy, station):
        """Live RMSE of the station's PM2.5 60-minute predictions (the chain link
        that answered most in the monitor's accuracy window) and that link;
        `accuracy` is the network's /api/v1/accuracy list."""
        rows = [a for a in accuracy if a.get("station") == station and
                a.get("target") == "pm25" and a.get("horizon_min") == 60 and
                a.get("rmse") is not None]
        if not rows:
            return "-"
        best = max(rows, key=lambda a: a.get("n", 0))
        return f"{best['rmse']:.1f} {best.get('link', '?')[:7]}"

    def view(self, final=False):
        stations = (self.api("/api/v1/stations") or {}).get("stations", [])
        gaps = self.api("/api/v1/gaps") or {}
        accuracy = (self.api("/api/v1/accuracy") or {}).get("accuracy", [])
        lines = [f"Sentinelle demo  speed {self.args.speed:g}x  "
                 f"collector http://127.0.0.1:{self.http_port}  logs {self.work}", "",
                 f"{'station':<17}{'health':<16}{'last window (sim)':<22}{'stored':>8}"
                 f"{'AQI':>5} {'dominant':<9}{'fallback':>9}{'pm25 60m err':>13}  models"]
        for s in stations:
            h = s.get("health") or {}
            latest = self.latest_reading(s)
            models = ", ".join(f"{m['target']}/{m['horizon_min']}:{m['kind']}"
                               for m in h.get("models", [])[:3]) or "-"
            lines.append(f"{s.get('id', '?'):<17}{h.get('state', '?'):<16}"
                         f"{str(s.get('last_window_end') or '-'):<22}"
                         f"{s.get('reading_count', 0):>8}"
                         f"{str(latest.get('aqi', '-')):>5} {str(latest.get('aqi_dominant', '-')):<9}"
                         f"{h.get('fallback_rate', 0):>9.2f}{self.live_error(accuracy, s['id']):>13}  {models}")
        lines.append("")
        lines.append(f"gaps: open {len(gaps.get('open', []))}  "
                     f"outstanding seqs {gaps.get('outstanding_seqs', 0)}  "
                     f"lost {len(gaps.get('lost', []))}")
        lines.append(self.models_line())
        active = self.alarms(active=True)
        lines.append(f"alarms: {len(active)} active")
        for a in active[:6]:
            lines.append(f"  {a.get('kind', '?'):<20}{str(a.get('subject', '?')):<17}"
                         f"since {a.get('start', '?')}  {str(a.get('reason', ''))[:60]}")
        if sys.stdout.isatty() and not final:
            sys.stdout.write("\x1b[2J\x1b[H")
        print("\n".join(lines), flush=True)

    def run_live(self):
        t_end = time.time() + self.args.duration
        while time.time() < t_end or self.args.keep_running:
            self.poll_training()
            self.poll_retraining()
            self.view()
            for p in self.procs:
                if p.name.startswith(("agent", "collector", "mosquitto")) and not p.alive():
                    raise SystemExit(f"{p.name} died; see {p.log_path}")
            time.sleep(self.args.refresh)
        # Let the simulators finish their span and the agents drain their outboxes.
        deadline = time.time() + 60
        while time.time() < deadline and any(
                p.alive() for p in self.procs if p.name.startswith("sim-")):
            time.sleep(0.5)

    # ---------------------------------------------------------------- summary
    def summary(self):
        print("\nSummary")
        live_end = self.live_start + int(self.args.duration * self.args.speed)
        for sid in self.stations:
            r = self.api(f"/api/v1/stations/{sid}/readings?from={utc(self.live_start)}"
                         f"&to={utc(live_end + 86400)}&format=json") or {}
            readings = r.get("readings", [])
            ends = [x["window_end"] for x in readings]
            seqs = [x.get("seq") for x in readings if x.get("seq") is not None]
            unique = len(set(ends)) == len(ends)
            expected = (live_end - self.live_start) // INTERVAL_S
            # The last windows may still be open when the simulator stops.
            complete = len(ends) >= expected - 2
            contiguous = all(
                (dt.datetime.strptime(b, "%Y-%m-%dT%H:%M:%SZ") -
                 dt.datetime.strptime(a, "%Y-%m-%dT%H:%M:%SZ")).total_seconds() == INTERVAL_S
                for a, b in zip(ends, ends[1:]))
            print(f"  {sid}: {len(ends)} live windows stored (simulator span {expected})")
            self.check(len(ends) > 0, f"{sid} reported")
            self.check(unique, f"{sid}: every window stored once")
            self.check(complete and contiguous, f"{sid}: no window lost (contiguous, "
                       f"{len(ends)}/{expected})")
            if seqs:
                self.check(seqs == sorted(seqs), f"{sid}: sequence numbers in order")
        gaps = self.api("/api/v1/gaps") or {}
        self.check(gaps.get("outstanding_seqs", 0) == 0, "gap ledger empty")
        if self.job:
            self.check(self.job_state == "succeeded" and len(self.promoted) > 0,
                       f"first models trained and promoted ({len(self.promoted)} in production, "
                       f"{len(self.refused)} kept back by the skill gate)")
            production = (self.api("/api/v1/models?stage=production&limit=1000") or {}).get(
                "models", [])
            for sid in self.stations:
                # A station can only use a production model that applies to it:
                # a network-wide one or one trained for that station.
                applicable = [m for m in production if m.get("station") in (None, sid)]
                r = self.api(f"/api/v1/stations/{sid}/predictions?from={utc(self.live_start)}"
                             f"&to={utc(live_end + 86400)}&limit=100000") or {}
                kinds = {}
                for p in r.get("predictions", []):
                    k = (p.get("model") or {}).get("kind", "?")
                    kinds[k] = kinds.get(k, 0) + 1
                # Every link but seasonal persistence is a model the collector
                # trained, signed and distributed (the linear fallback too).
                by_model = sum(kinds.get(k, 0) for k in ("station", "network", "linear"))
                print(f"  {sid}: predictions by chain link " +
                      ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
                if not applicable:
                    print(f"  {sid}: no production model applies (none passed the skill gate)")
                    continue
                self.check(by_model > 0, f"{sid}: distributed models in use ({by_model} "
                           "predictions by a station, network or linear model; "
                           f"{len(applicable)} in production for it)")
        if not self.args.no_faults and len(self.stations) >= 2:
            r = self.api(f"/api/v1/stations/{self.stations[0]}/readings?from="
                         f"{utc(self.live_start)}&to={utc(live_end + 86400)}") or {}
            stuck = sum(1 for x in r.get("readings", [])
                        if x.get("values", {}).get("no2", {}).get("qc") == "stuck")
            self.check(stuck > 0, f"injected stuck NO2 sensor flagged by QC ({stuck} windows)")
        alarms = self.alarms()
        kinds = {}
        for a in alarms:
            kinds[a.get("kind")] = kinds.get(a.get("kind"), 0) + 1
        print(f"  monitoring alarms raised: {len(alarms)} (" +
              ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) + ")")
        # Drift alarms first: they say what changed; accuracy alarms follow from it.
        shown = sorted(alarms, key=lambda a: (a.get("kind") == "accuracy_degraded",
                                              a.get("raised", "")))
        for a in shown[:10]:
            print(f"    {a.get('kind')} {a.get('subject')} {a.get('what')} raised "
                  f"{a.get('raised')} -> {a.get('end') or 'open'}: {str(a.get('reason'))[:80]}")
        if not self.args.no_faults and len(self.stations) >= 2:
            # The O3 calibration drift at the second station is a sensor fault
            # (its neighbours do not move), not a change of the air.
            sensor = [a for a in alarms if a.get("kind") == "drift_sensor_fault" and
                      a.get("subject") == self.stations[1] and a.get("what") == "o3"]
            self.check(bool(sensor), f"injected O3 calibration drift at {self.stations[1]} "
                       f"raised its sensor-fault alarm" +
                       (f" (raised at {sensor[0].get('raised')})" if sensor else ""))
        if self.regime_at is not None:
            after = utc(self.regime_at)
            # A traffic regime moves the pollutants (the weather it does not
            # touch may drift too, against a reference of a few weeks).
            regional = sorted((a for a in alarms if a.get("kind") == "drift_regional" and
                               a.get("what") in ("no2", "pm25", "pm10", "o3") and
                               a.get("start", "") >= after), key=lambda a: a.get("raised", ""))
            self.check(bool(regional), f"regime change from {after} caught by a regional drift "
                       "alarm" + (f" ({regional[0].get('what')}, raised at "
                                  f"{regional[0].get('raised')})" if regional else ""))
            done = [j for j, s in self.retrain_jobs.items() if s == "succeeded"]
            self.check(bool(done), "retraining triggered by a monitoring alarm succeeded "
                       f"({', '.join(done) or 'none of ' + str(len(self.retrain_jobs))})")
            outcomes = self.rollout_outcomes()
            promoted = [v for v, (stage, gate, _) in outcomes.items()
                        if gate and gate.get("to") == "production"]
            for v, (stage, gate, fam) in sorted(outcomes.items()):
                print(f"    v{v} {fam}: {stage}" + (f" ({gate.get('reason')})" if gate else ""))
            self.check(bool(promoted), "a retrained model rolled out: shadow, then production "
                       f"by the accuracy gate ({len(promoted)} of {len(outcomes)} shadowed "
                       "versions promoted)")
        html = self.api_raw("/api/v1/report?format=html")
        js = self.api_raw("/api/v1/report?format=json")
        if html:
            with open(self.path("report.html"), "wb") as f:
                f.write(html)
        if js:
            with open(self.path("report.json"), "wb") as f:
                f.write(js)
        report_ok = False
        try:
            report_ok = bool(html) and b"</html>" in html and "stations" in json.loads(js)
        except (TypeError, ValueError):
            pass
        charts = html.count(b"<svg") if html else 0
        self.check(report_ok, f"drift and accuracy report written ({charts} charts): "
                   f"{self.path('report.html')}")
        print(f"\nLogs and data: {self.work}")

    def stop_all(self):
        # Simulators first, then agents (they flush), then the collector and the broker.
        order = ["sim-", "agent-", "collector", "mosquitto"]
        for prefix in order:
            for p in self.procs:
                if p.name.startswith(prefix):
                    rc = p.stop()
                    if prefix in ("agent-", "collector") and rc not in (0, None):
                        self.failures.append(f"{p.name} exited with {rc}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stations", type=int, default=5)
    ap.add_argument("--speed", type=float, default=8000, help="simulated seconds per second")
    ap.add_argument("--duration", type=float, default=180, help="real seconds of live run")
    ap.add_argument("--history-days", type=int, default=28)
    ap.add_argument("--keep-running", action="store_true")
    ap.add_argument("--no-faults", action="store_true",
                    help="no stuck NO2 sensor and no O3 calibration drift")
    ap.add_argument("--no-regime", action="store_true",
                    help="no city-wide regime change (and so no retraining to roll out)")
    ap.add_argument("--regime-at", type=float, default=0.5,
                    help="when the regime changes, as a share of the live span")
    ap.add_argument("--drift-window-days", type=int, default=14,
                    help="the monitor's drift window (monitoring.drift_window_days)")
    ap.add_argument("--no-models", action="store_true", help="skip training and distribution")
    ap.add_argument("--check", action="store_true", help="assert the outcome, exit 1 if not")
    ap.add_argument("--refresh", type=float, default=2.0)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--workdir", default=os.path.join(ROOT, ".demo"))
    args = ap.parse_args()
    if not 1 <= args.stations <= MAX_STATIONS:
        ap.error(f"--stations must be 1..{MAX_STATIONS}")
    demo = Demo(args)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        print("Starting broker, collector and stations ...")
        demo.start_broker()
        demo.collector_config()
        demo.history()
        demo.start_collector()
        demo.register_stations()
        demo.start_training()
        demo.wait_training()
        demo.start_stations()
        demo.run_live()
        time.sleep(3)
        demo.view(final=True)
        demo.summary()
    except KeyboardInterrupt:
        print("\ninterrupted")
    finally:
        demo.stop_all()
    if demo.failures:
        print("\nFAILED: " + "; ".join(demo.failures))
        return 1 if args.check else 0
    print("All processes stopped cleanly.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
