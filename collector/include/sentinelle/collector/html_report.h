// The drift and accuracy report (docs/MONITORING.md, "Report JSON") as one
// self-contained HTML page: inline CSS, inline SVG charts, no script, no
// external resource (a Content-Security-Policy meta forbids any), so it can be
// mailed, archived or opened on a machine without network.
//
// Charts: live RMSE over time per station/target/horizon/link/model version
// (with the model's validation RMSE as a dashed line), PSI over time per
// drifting feature (with the 0.1 / 0.25 rule-of-thumb lines), and a timeline
// of the alarms across the report's window. Every string taken from the
// report is HTML-escaped; fields that are missing or of the wrong type render
// as an em dash, empty sections say so. Never throws.
//
// Chart elements carry fixed class names that tests and stylesheets rely on:
// `svg.chart` (with `data-kind` = accuracy | drift | alarms), `path.series`
// (one polyline per data series; a gap in the data starts a new `M` segment),
// `line.reference` (validation RMSE, PSI thresholds), `rect.alarm-bar`.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace sentinelle::collector {

std::string RenderReportHtml(const nlohmann::json& report);

}  // namespace sentinelle::collector
