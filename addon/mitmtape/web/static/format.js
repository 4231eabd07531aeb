// Numbers for people, written the way mitmtape's Python side writes them (mitmtape/humanize.py),
// so a size reads the same on the page, in the CLI and in an artifact's summary.

const SIZE_UNITS = ["B", "KB", "MB", "GB"];
const SIZE_STEP = 1000;
// Enough digits for the exact decimal value of any double below 1e21 (toFixed allows 100).
const EXACT_DIGITS = 100;

// One decimal, rounding an exact tie to the even digit as Python's format does; toFixed
// rounds it up, so 1,250 bytes would read "1.3 KB" here and "1.2 KB" in the CLI.
function oneDecimal(value) {
  const exact = value.toFixed(EXACT_DIGITS);
  const point = exact.indexOf(".");
  const rounded = value.toFixed(1);
  if (!/^50*$/.test(exact.slice(point + 2))) return rounded;
  const down = exact.slice(0, point + 2);
  return Number(down.at(-1)) % 2 === 0 ? down : rounded;
}

// Bytes in decimal units as file managers show them: "512 B", "3.2 KB", "1.4 MB".
export function humanSize(bytes) {
  let value = bytes;
  for (const unit of SIZE_UNITS) {
    if (value < SIZE_STEP || unit === SIZE_UNITS.at(-1)) {
      return unit === "B" ? `${value.toFixed(0)} B` : `${oneDecimal(value)} ${unit}`;
    }
    value /= SIZE_STEP;
  }
  throw new Error("unreachable");
}

// "1,247": counts read the same in every locale, as the CLI prints them.
export function number(value) {
  return value.toLocaleString("en");
}

// "1 flow", "1,247 flows".
export function count(value, noun) {
  return `${number(value)} ${noun}${value === 1 ? "" : "s"}`;
}

export function shortTime(text) {
  return text ? text.replace("T", " ").replace(/\.\d+/, "").replace(/Z$|\+00:00$/, "") : "";
}

export function formatMs(ms) {
  if (ms === null || ms === undefined) return "—";
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;
}
