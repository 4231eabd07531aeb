// The mitmtape page: a view of the JSON API at /api/v1, signed in by an HttpOnly cookie.
// ES modules, one per concern, loaded as they are (no build step); this one wires them.

import { showCompare, wireCompare } from "./compare.js";
import { wireDetail } from "./detail.js";
import { showSession, wireFlows } from "./flows.js";
import { listen } from "./live.js";
import { onRoute, route } from "./router.js";
import { showSessions, wireSessions } from "./sessions.js";
import { wireTransfer } from "./transfer.js";

function draw(params) {
  if (params.get("view") === "compare") return showCompare();
  if (params.get("session")) return showSession();
  return showSessions();
}

wireSessions();
wireFlows();
wireDetail();
wireTransfer();
wireCompare();
onRoute(draw);
window.addEventListener("popstate", route);
route();
listen();
