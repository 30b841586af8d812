// The dashboard's DOM helpers: elements built by hand from text (never HTML, so nothing an
// execution's summary or a commit message says is ever markup), and the page's notices.


export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child !== null && child !== undefined && child !== false) el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export const $ = (id) => document.getElementById(id);
export const shortSha = (id) => (id || "").slice(0, 7);
export const firstLine = (text, max = 40) => {
  const line = (text || "").split("\n")[0];
  return line.length > max ? line.slice(0, max - 1) + "…" : line;
};

export function when(epochSeconds) {
  if (epochSeconds === undefined || epochSeconds === null) return "";
  const date = new Date(epochSeconds * 1000);
  const today = date.toDateString() === new Date().toDateString();
  return today ? date.toLocaleTimeString() : date.toLocaleString();
}

export function toast(message, kind = "error") {
  const note = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, message,
    h("button", { class: "quiet", type: "button", "aria-label": "dismiss", onclick: () => note.remove() }, "×"));
  $("toasts").append(note);
  if (kind !== "error") setTimeout(() => note.remove(), 4000);  // good news fades; errors stay until dismissed
}

// An AWS status as the page marks it (✓ ✗ ◯, or the status's own word).
export const SYMBOLS = { InProgress: "◯", Succeeded: "✓", Failed: "✗", Superseded: "superseded", Stopped: "stopped",
  Stopping: "stopping", Cancelled: "cancelled", Abandoned: "abandoned", Skipped: "skipped", Errored: "✗",
  Overridden: "⤼" };

export function statusMark(status) {
  return h("span", { class: `mark s-${status}`, title: status }, SYMBOLS[status] || status);
}
