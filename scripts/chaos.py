#!/usr/bin/env python3
"""Chaos test of the whole chain: sensors -> agents -> broker -> collector store.

Runs a real Mosquitto, the collector and N stations (sentinelle-sim live ->
sentinelle-agent on the simulator's accelerated clock), and on a schedule drawn
from --seed kills -9 and restarts agents, the broker and the collector, cuts a
station's link for hours of simulated time, and overflows a station's disk
budget. After a quiet drain it compares the collector's store with what the
agents committed (the truth, see docs/CHAOS.md) and checks the drop counters
and the gap ledger. Exit 0 when every guarantee held, 1 on any violation
(the verdict names the seed to reproduce it), 2 when the run could not start.
"""
import argparse
import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request

sys.dont_write_bytecode = True  # no scripts/__pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chaos_link import StationLink  # noqa: E402
from demo import INTERVAL_S, MAX_STATIONS, Demo, free_port, network, utc  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Fields of a reading the store must give back as the agent committed them
# (the API adds origin, clock and arrival_ms, which are the collector's own).
COMPARED = ("seq", "window_end", "interval_s", "time", "values", "aqi", "aqi_dominant")
KINDS = ["agent_kill", "broker_kill", "collector_kill", "link_cut", "disk_fill"]
WEIGHTS = [4, 2, 2, 3, 1]

# Test instrumentation of an agent's SQLite file: every reading the agent
# commits is copied, in the same transaction, to a journal the agent never
# reads; its deletion by the disk budget is stamped there with the time and
# whether it was confirmed. The journal is the truth the store is checked
# against (the agent's own table forgets evicted readings).
JOURNAL_SQL = """
CREATE TABLE IF NOT EXISTS chaos_journal(
  seq INTEGER PRIMARY KEY, window_end_s INTEGER NOT NULL, boot_id TEXT NOT NULL,
  fragment TEXT NOT NULL, committed_ms REAL NOT NULL,
  deleted_ms REAL, deleted_confirmed INTEGER);
CREATE TRIGGER IF NOT EXISTS chaos_journal_insert AFTER INSERT ON readings BEGIN
  INSERT INTO chaos_journal(seq, window_end_s, boot_id, fragment, committed_ms)
  VALUES (NEW.seq, NEW.window_end_s, NEW.boot_id, NEW.fragment,
          (julianday('now') - 2440587.5) * 86400000.0);
END;
CREATE TRIGGER IF NOT EXISTS chaos_journal_delete AFTER DELETE ON readings BEGIN
  UPDATE chaos_journal SET deleted_ms = (julianday('now') - 2440587.5) * 86400000.0,
                           deleted_confirmed = OLD.confirmed
  WHERE seq = OLD.seq AND deleted_ms IS NULL;
END;
"""


def scrape(port):
    """An agent's /metrics as {name{labels}: value}; None when it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return None
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            try:
                out[key] = float(value)
            except ValueError:
                pass
    return out


def drops(metrics, reason):
    return int(metrics.get(f'sentinelle_agent_drops_total{{reason="{reason}"}}', 0))


class Lifetime:
    """One agent process: its counters as last scraped and how it ended."""

    def __init__(self, proc):
        self.proc = proc
        self.started_ms = time.time() * 1000
        self.ended_ms = None
        self.killed = False
        self.scraped_ms = None
        self.metrics = {}


class Station:
    def __init__(self, sid, budget_bytes):
        self.id = sid
        self.budget_bytes = budget_bytes
        self.in_port = free_port()
        self.metrics_port = free_port()
        self.link = None
        self.lives = []
        self.sim = None


class Chaos(Demo):
    """The demo's broker and collector plumbing, driven by a seeded fault schedule."""

    def __init__(self, args):  # pylint: disable=super-init-not-called
        self.args = args
        self.bin = os.path.join(args.build_dir, "bin")
        net = network(self.bin, args.stations)  # before the last run's logs are wiped
        self.work = os.path.abspath(args.workdir)
        if os.path.exists(self.work):
            subprocess.run(["rm", "-rf", self.work], check=True)
        os.makedirs(self.work)
        self.procs = []
        self.failures = []
        self.violations = []
        self.token = hashlib.sha256(f"chaos-{args.seed}".encode()).hexdigest()[:32]
        self.station_token = self.token[::-1]
        self.http_port = free_port()
        self.broker_port = free_port()
        self.span_s = int(args.duration * args.speed)
        now = int(time.time()) // INTERVAL_S * INTERVAL_S
        self.live_start = now - self.span_s - 3600
        self.t0 = None
        self.rng = random.Random(args.seed)
        self.events_log = open(self.path("events.jsonl"), "w")
        self.stations = []
        for i, st in enumerate(net):
            sid = st["id"]
            # The last station runs on a small disk budget (store.max_bytes).
            budget = args.budget_bytes if i == args.stations - 1 else 64 << 20
            self.stations.append(Station(sid, budget))
        self.budget_station = self.stations[-1]

    # ------------------------------------------------------------ plumbing
    def say(self, what, **fields):
        t = time.time() - (self.t0 or time.time())
        sim = self.live_start + int(t * self.args.speed)
        print(f"[{t:6.1f}s sim {utc(sim)}] {what}", flush=True)
        self.events_log.write(json.dumps({"t": round(t, 3), "sim": utc(sim), "what": what,
                                          **fields}) + "\n")
        self.events_log.flush()

    def proc(self, name):
        alive = [p for p in self.procs if p.name == name]
        return alive[-1] if alive else None

    def kill9(self, name):
        p = self.proc(name)
        if p is None or not p.alive():
            return None
        p.p.send_signal(signal.SIGKILL)
        p.p.wait()
        p.log.close()
        self.procs.remove(p)
        return p

    def configure_collector(self):
        self.collector_config()
        path = self.path("collector.json")
        with open(path) as f:
            cfg = json.load(f)
        cfg["training"]["schedule_interval_s"] = 0
        # The monitor as a live network runs it (the demo's data clock is not
        # what these checks are about).
        cfg.pop("monitoring", None)
        cfg["mqtt"]["keepalive_s"] = 5
        # Gaps are asked for quickly and closed as lost within the drain period.
        cfg["gaps"] = {"grace_s": 2, "retry_s": 3, "max_attempts": 3}
        with open(path, "w") as f:
            json.dump(cfg, f, indent=2)

    def agent_config(self, st):
        os.makedirs(self.path(st.id), exist_ok=True)
        cfg = {
            "station_id": st.id,
            "clock": {"source": "input"},
            "input": {"kind": "tcp", "tcp_port": st.in_port},
            "store": {"path": self.path(st.id, "agent.db"), "synchronous": "NORMAL",
                      "max_bytes": st.budget_bytes},
            # Real-time protocol timers scaled down so that outages of a few
            # real seconds (hours of simulated time) are noticed and repaired.
            "mqtt": {"uri": f"tcp://127.0.0.1:{st.link.port}", "keepalive_s": 3,
                     "connect_timeout_s": 3, "ack_timeout_ms": 2000,
                     "ack_timeout_max_ms": 6000, "reconnect_min_ms": 100,
                     "reconnect_max_ms": 1500, "status_interval_s": 2,
                     "shutdown_flush_ms": 500},
            "metrics": {"listen": f"127.0.0.1:{st.metrics_port}"},
            "log": {"level": "info"},
        }
        with open(self.path(st.id, "agent.json"), "w") as f:
            json.dump(cfg, f, indent=2)

    def start_agent(self, st):
        # The life starts before the spawn: at an accelerated clock the agent
        # commits (and may delete for its budget) before its input port answers.
        started_ms = time.time() * 1000
        p = self.start("agent-" + st.id, [os.path.join(self.bin, "sentinelle-agent"),
                                          "--config", self.path(st.id, "agent.json")])
        self.wait_port(st.in_port, p)
        life = Lifetime(p)
        life.started_ms = started_ms
        st.lives.append(life)
        return p

    def install_journal(self, st):
        """Adds the truth journal to the agent's store (created by its first start)."""
        deadline = time.time() + 20
        while True:
            try:
                db = sqlite3.connect(self.path(st.id, "agent.db"), timeout=10)
                db.executescript(JOURNAL_SQL)
                db.close()
                return
            except sqlite3.OperationalError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)

    def start_sim(self, st):
        argv = [os.path.join(self.bin, "sentinelle-sim"), "live", "--station", st.id,
                "--to", f"tcp:127.0.0.1:{st.in_port}", "--speed", str(self.args.speed),
                "--start", utc(self.live_start), "--seed", str(self.args.seed),
                "--hours", str(self.span_s / 3600.0), "--connect-timeout-s", "30"]
        st.sim = self.start("sim-" + st.id, argv)

    # ------------------------------------------------------------ schedule
    def schedule(self):
        """(time, kind, params) drawn from the seed alone."""
        n = self.args.events
        kinds = KINDS[:] if n >= len(KINDS) else []
        kinds += self.rng.choices(KINDS, WEIGHTS, k=n - len(kinds))
        self.rng.shuffle(kinds)
        d = self.args.duration
        times = sorted(self.rng.uniform(0.08 * d, 0.72 * d) for _ in kinds)
        plan = []
        for t, kind in zip(times, kinds):
            if kind == "agent_kill":
                plan.append((t, kind, {"station": self.rng.choice(self.stations).id,
                                       "down_s": round(self.rng.uniform(0.2, 2.5), 2)}))
            elif kind in ("broker_kill", "collector_kill"):
                plan.append((t, kind, {"down_s": round(self.rng.uniform(0.2, 3.0), 2)}))
            elif kind == "link_cut":
                hours = round(self.rng.uniform(1.0, self.args.max_cut_hours), 2)
                plan.append((t, kind, {"station": self.rng.choice(self.stations).id,
                                       "mode": self.rng.choice(["reset", "blackhole"]),
                                       "sim_hours": hours,
                                       "down_s": round(hours * 3600 / self.args.speed, 2)}))
            else:
                # Long enough for the outbox to outgrow the budget: about twice
                # the readings it holds (a reading is ~1.1 KB of payload).
                windows = 2 * self.budget_station.budget_bytes // 1100 + 12
                plan.append((t, kind, {"station": self.budget_station.id,
                                       "mode": self.rng.choice(["reset", "blackhole"]),
                                       "sim_hours": round(windows * INTERVAL_S / 3600, 2),
                                       "down_s": round(windows * INTERVAL_S /
                                                       self.args.speed, 2)}))
        return plan

    def actions(self, plan):
        """Expands the plan into timed start/stop actions."""
        acts = []
        for t, kind, p in plan:
            down = p["down_s"]
            if kind == "agent_kill":
                st = self.station(p["station"])
                acts.append((t, f"kill -9 agent {st.id}", lambda st=st: self.kill_agent(st)))
                acts.append((t + down, f"restart agent {st.id}",
                             lambda st=st: self.restart_agent(st)))
            elif kind == "broker_kill":
                acts.append((t, "kill -9 broker", lambda: self.kill9("mosquitto")))
                acts.append((t + down, "restart broker", self.restart_broker))
            elif kind == "collector_kill":
                acts.append((t, "kill -9 collector", lambda: self.kill9("collector")))
                acts.append((t + down, "restart collector", self.restart_collector))
            else:
                st = self.station(p["station"])
                acts.append((t, f"cut link of {st.id} ({p['mode']}, {p['sim_hours']} h simulated)",
                             lambda st=st, m=p["mode"]: st.link.cut(m)))
                acts.append((t + down, f"restore link of {st.id}", st.link.restore))
        return sorted(acts, key=lambda a: a[0])

    def station(self, sid):
        return next(s for s in self.stations if s.id == sid)

    def kill_agent(self, st):
        life = st.lives[-1]
        if self.kill9("agent-" + st.id) is not None:
            life.ended_ms = time.time() * 1000
            life.killed = True

    def restart_agent(self, st):
        if self.proc("agent-" + st.id) is None:
            self.start_agent(st)

    def restart_broker(self):
        if self.proc("mosquitto") is None:
            self.start_broker()

    def restart_collector(self):
        if self.proc("collector") is None:
            self.start_collector()

    # ------------------------------------------------------------ running
    def scrape_agents(self):
        for st in self.stations:
            life = st.lives[-1]
            if life.ended_ms is not None:
                continue
            t = time.time() * 1000
            m = scrape(st.metrics_port)
            if m is not None:
                life.metrics, life.scraped_ms = m, t

    def watch(self):
        """Processes that died without being killed are violations (and are restarted)."""
        for p in list(self.procs):
            if p.name.startswith("sim-") or p.alive():
                continue
            self.violate(f"{p.name} died by itself (exit {p.p.returncode}); see {p.log_path}")
            p.log.close()
            self.procs.remove(p)
            if p.name.startswith("agent-"):
                st = self.station(p.name[len("agent-"):])
                st.lives[-1].ended_ms = time.time() * 1000
                st.lives[-1].killed = True
                self.start_agent(st)
            elif p.name == "collector":
                self.start_collector()
            elif p.name == "mosquitto":
                self.start_broker()

    def violate(self, what):
        self.violations.append(what)
        print("  VIOLATION  " + what, flush=True)

    def run(self):
        plan = self.schedule()
        print(f"Chaos seed {self.args.seed}: {len(self.stations)} stations, "
              f"{self.args.duration:g} s at {self.args.speed:g}x "
              f"({self.span_s / 3600:.1f} h simulated), {len(plan)} events; "
              f"disk budget {self.budget_station.budget_bytes} B at {self.budget_station.id}; "
              f"work dir {self.work}", flush=True)
        for t, kind, p in plan:
            print(f"  plan {t:6.1f}s {kind} {json.dumps(p)}")
        self.start_broker()
        self.configure_collector()
        self.start_collector()
        for st in self.stations:
            st.link = StationLink(st.id, self.broker_port)
            self.agent_config(st)
            self.start_agent(st)
            self.install_journal(st)
        self.t0 = time.time()
        for st in self.stations:
            self.start_sim(st)
        self.say("live", plan=[[round(t, 2), k, p] for t, k, p in plan])
        acts = self.actions(plan)
        next_scrape = 0
        while acts or any(st.sim.alive() for st in self.stations):
            now = time.time() - self.t0
            while acts and acts[0][0] <= now:
                _, what, fn = acts.pop(0)
                self.say(what)
                fn()
            if time.time() >= next_scrape:
                self.scrape_agents()
                self.watch()
                next_scrape = time.time() + 0.5
            if now > self.args.duration + 120:
                self.violate("simulators did not finish 120 s after the planned span")
                break
            time.sleep(0.05)
        self.say("simulators done; draining")
        self.drain()

    def drain(self):
        """Until every outbox is confirmed and the gap ledger has no open gap."""
        deadline = time.time() + self.args.drain_timeout
        calm = 0
        while time.time() < deadline:
            self.scrape_agents()
            self.watch()
            depths = [int(st.lives[-1].metrics.get("sentinelle_agent_outbox_depth", -1))
                      for st in self.stations]
            depth = sum(abs(d) for d in depths)
            gaps = self.api("/api/v1/gaps") or {}
            still = depth != 0 or gaps.get("outstanding_seqs", 1) != 0 or "open" not in gaps
            calm = 0 if still else calm + 1
            if calm >= 3:
                self.say(f"quiet after {self.args.drain_timeout - (deadline - time.time()):.1f}"
                         " s of drain")
                return
            time.sleep(1)
        self.say(f"drain timed out after {self.args.drain_timeout} s (outbox {depth}, "
                 f"gaps {gaps.get('outstanding_seqs')})")

    # ------------------------------------------------------------ verdict
    def journal(self, st):
        db = sqlite3.connect(f"file:{self.path(st.id, 'agent.db')}?mode=ro", uri=True)
        rows = db.execute("SELECT seq, window_end_s, fragment, deleted_ms, deleted_confirmed "
                          "FROM chaos_journal ORDER BY seq").fetchall()
        db.close()
        return rows

    def verify(self):
        print("\nVerdict")
        live_end = self.live_start + self.span_s
        gaps = self.api("/api/v1/gaps") or {}
        if "open" not in gaps or "lost" not in gaps:
            self.violate(f"the gap ledger could not be read: {gaps}")
        for g in gaps.get("open", []):
            self.violate(f"open gap left in the ledger: {json.dumps(g)}")
        lost = {}
        for g in gaps.get("lost", []):
            for s in range(g["from_seq"], g["to_seq"] + 1):
                lost.setdefault(g["station"], set()).add(s)
        totals = {"committed": 0, "stored": 0, "dropped": 0, "evicted": 0}
        for st in self.stations:
            journal = self.journal(st)
            r = self.api(f"/api/v1/stations/{st.id}/readings?from={self.live_start - 86400}"
                         f"&to={live_end + 86400}&limit=100000") or {}
            if "readings" not in r:
                self.violate(f"{st.id}: the stored readings could not be read: {r}")
            stored = {x["window_end"]: x for x in r.get("readings", [])}
            by_seq = {}
            for x in stored.values():
                if x["seq"] in by_seq:
                    self.violate(f"{st.id}: seq {x['seq']} stored at two windows "
                                 f"({by_seq[x['seq']]['window_end']}, {x['window_end']})")
                by_seq[x["seq"]] = x
            dropped = {seq for seq, _, _, d, c in journal if d is not None and c == 0}
            evicted = {seq for seq, _, _, d, c in journal if d is not None and c == 1}
            missing, wrong, excused = [], [], 0
            for seq, wend, fragment, _, _ in journal:
                truth = json.loads(fragment)
                got = stored.get(utc(wend))
                if got is None:
                    if seq in dropped:
                        excused += 1
                        if seq not in lost.get(st.id, set()):
                            self.violate(f"{st.id}: seq {seq} dropped by the disk budget and "
                                         "absent from the store, but not a lost gap")
                    else:
                        missing.append(seq)
                    continue
                diff = [k for k in COMPARED if k not in got or truth[k] != got[k]]
                if diff:
                    wrong.append((seq, diff))
            if missing:
                self.violate(f"{st.id}: {len(missing)} committed reading(s) never stored, "
                             f"seqs {compress(missing)}")
            for seq, diff in wrong[:5]:
                self.violate(f"{st.id}: seq {seq} stored with other {', '.join(diff)} than "
                             "the agent committed")
            if len(wrong) > 5:
                self.violate(f"{st.id}: {len(wrong) - 5} more readings stored with other values")
            truth_windows = {utc(w) for _, w, _, _, _ in journal}
            phantom = sorted(set(stored) - truth_windows)
            if phantom:
                self.violate(f"{st.id}: {len(phantom)} stored window(s) the agent never "
                             f"committed, first {phantom[:3]}")
            falsely_lost = sorted(lost.get(st.id, set()) - dropped)
            if falsely_lost:
                self.violate(f"{st.id}: ledger reports seqs lost that the agent never dropped: "
                             f"{compress(falsely_lost)}")
            # Windows the agent committed follow each other with no hole (a
            # sensor outage is published as all-missing readings).
            ends = [w for _, w, _, _, _ in journal]
            holes = [(a, b) for a, b in zip(ends, ends[1:]) if b - a != INTERVAL_S]
            skipped = sum(drops(life.metrics, "gap_skipped") for life in st.lives)
            if holes and not skipped:
                self.violate(f"{st.id}: the agent's windows jump at {len(holes)} place(s), e.g. "
                             f"{utc(holes[0][0])} -> {utc(holes[0][1])}")
            self.check_counters(st, journal)
            totals["committed"] += len(journal)
            totals["stored"] += len(stored)
            totals["dropped"] += len(dropped)
            totals["evicted"] += len(evicted)
            lives = len(st.lives)
            print(f"  {st.id}: {self.sim_summary(st)}")
            print(f"  {st.id}: {len(journal)} committed (seq 1..{journal[-1][0] if journal else 0}"
                  f"), {len(stored)} stored, {len(dropped)} dropped unconfirmed by the budget "
                  f"({excused} of them never reached the store), {len(evicted)} evicted "
                  f"after confirmation, {lives} agent process(es), {len(missing)} missing, "
                  f"{len(wrong)} wrong")
        print(f"  gap ledger: {len(gaps.get('open', []))} open, "
              f"{sum(len(v) for v in lost.values())} seqs closed as lost")
        return totals

    def sim_summary(self, st):
        """The simulator's last word: lines sent, lost on the line while the agent was down."""
        try:
            with open(self.path(f"sim-{st.id}.log"), errors="replace") as f:
                lines = [x.strip() for x in f if x.startswith("sentinelle-sim: sent")]
        except OSError:
            lines = []
        return lines[-1][len("sentinelle-sim: "):] if lines else "simulator summary missing"

    def check_counters(self, st, journal):
        """Every deletion by the budget is counted by the agent process that made it.
        A process killed -9 is only held to what it had counted at its last scrape."""
        deletions = [(d, c) for _, _, _, d, c in journal if d is not None]
        for i, life in enumerate(st.lives):
            end = life.ended_ms if life.ended_ms is not None else float("inf")
            nxt = st.lives[i + 1].started_ms if i + 1 < len(st.lives) else float("inf")
            mine = [(d, c) for d, c in deletions if life.started_ms - 50 <= d < min(end, nxt)]
            for reason, flag in (("dropped_unconfirmed", 0), ("evicted_confirmed", 1)):
                actual = sum(1 for _, c in mine if c == flag)
                counted = drops(life.metrics, reason)
                late = sum(1 for d, c in mine if c == flag and life.killed and
                           (life.scraped_ms is None or d >= life.scraped_ms - 500))
                if not actual - late <= counted <= actual:
                    self.violate(f"{st.id}: agent process {i + 1} counted {counted} "
                                 f"{reason}, its store deleted {actual} ({late} after its "
                                 "last scrape)")

    def sabotage(self):
        """Self-check of the verdict: removes one stored reading of the first station
        and alters a value of another, behind the collector's back."""
        sid = self.stations[0].id
        db = sqlite3.connect(self.path("collector.db"), timeout=30)
        key = "(SELECT key FROM stations WHERE id = ?)"
        with db:
            gone = db.execute(f"DELETE FROM readings WHERE station = {key} AND seq = 10",
                              (sid,)).rowcount
            bent = db.execute(f"UPDATE readings SET temperature_c = COALESCE(temperature_c, 0)"
                              f" + 0.5 WHERE station = {key} AND seq = 20", (sid,)).rowcount
        db.close()
        self.say(f"sabotage: deleted {gone} stored reading (seq 10) and changed {bent} "
                 f"(seq 20) of {sid}")
        return [f"{sid}: 1 committed reading(s) never stored, seqs 10",
                f"{sid}: seq 20 stored with other values than"]

    def finish(self):
        self.scrape_agents()
        for p in list(self.procs):
            if p.name.startswith("agent-"):
                rc = p.stop()
                if rc not in (0, None):
                    self.violate(f"{p.name} exited with {rc} on SIGTERM")
                self.procs.remove(p)
                st = self.station(p.name[len("agent-"):])
                st.lives[-1].ended_ms = time.time() * 1000


def compress(seqs):
    """[1,2,3,7] -> '1-3,7' (first 12 ranges)."""
    out, seqs = [], sorted(seqs)
    i = 0
    while i < len(seqs):
        j = i
        while j + 1 < len(seqs) and seqs[j + 1] == seqs[j] + 1:
            j += 1
        out.append(str(seqs[i]) if i == j else f"{seqs[i]}-{seqs[j]}")
        i = j + 1
    return ",".join(out[:12]) + (",..." if len(out) > 12 else "")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--events", type=int, default=8)
    ap.add_argument("--duration", type=float, default=45, help="real seconds of live feed")
    ap.add_argument("--speed", type=float, default=2400, help="simulated seconds per second")
    ap.add_argument("--stations", type=int, default=3)
    ap.add_argument("--budget-bytes", type=int, default=40000,
                    help="store.max_bytes of the last station (the disk-budget station)")
    ap.add_argument("--max-cut-hours", type=float, default=5,
                    help="longest link cut in simulated hours (from 1)")
    ap.add_argument("--drain-timeout", type=float, default=60)
    ap.add_argument("--sabotage", action="store_true",
                    help="self-check: plant a lost and a corrupted reading in the store after "
                    "the drain; passes only if the verdict reports exactly those")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    if not 2 <= args.stations <= MAX_STATIONS:
        ap.error(f"--stations must be 2..{MAX_STATIONS}")
    args.workdir = args.workdir or os.path.join(args.build_dir, f"chaos-{args.seed}")
    args.history_days = 0
    chaos = Chaos(args)
    repro = (f"scripts/chaos.py --seed {args.seed} --events {args.events} --duration "
             f"{args.duration:g} --speed {args.speed:g} --stations {args.stations} "
             f"--budget-bytes {args.budget_bytes} --max-cut-hours {args.max_cut_hours:g}")
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    started = time.time()
    try:
        chaos.run()
        chaos.finish()
        planted = chaos.sabotage() if args.sabotage else []
        totals = chaos.verify()
    except KeyboardInterrupt:
        print("\ninterrupted")
        chaos.stop_all()
        return 2
    except SystemExit as e:
        print(f"\ncould not run: {e}")
        chaos.stop_all()
        return 2
    finally:
        for st in chaos.stations:
            if st.link:
                st.link.close()
    chaos.stop_all()
    took = time.time() - started
    if args.sabotage:
        found = [p for p in planted if any(v.startswith(p) for v in chaos.violations)]
        others = [v for v in chaos.violations if not any(v.startswith(p) for p in planted)]
        ok = len(found) == len(planted) and not others and not chaos.failures
        print(f"\nSELF-CHECK {'PASSED' if ok else 'FAILED'} (seed {args.seed}): the verdict "
              f"reported {len(found)} of the {len(planted)} planted faults"
              f"{', and other violations: ' + '; '.join(others) if others else ''}")
        return 0 if ok else 1
    if chaos.violations or chaos.failures:
        print(f"\nCHAOS FAILED (seed {args.seed}, {took:.0f} s): "
              f"{len(chaos.violations) + len(chaos.failures)} violation(s). Reproduce: {repro}")
        return 1
    print(f"\nCHAOS PASSED (seed {args.seed}, {took:.0f} s): {totals['committed']} readings "
          f"committed, {totals['stored']} stored exactly once, {totals['dropped']} dropped by "
          f"the disk budget and counted, gap ledger clean. Logs: {chaos.work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
