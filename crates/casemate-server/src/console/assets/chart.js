// A metric over steps as an SVG line chart, drawn with DOM calls (no library, no inline style).

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 360;
const HEIGHT = 180;
const PAD = { left: 44, right: 12, top: 10, bottom: 24 };

function svg(tag, attributes, text) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

function short(value) {
  if (Math.abs(value) >= 1000 || (Math.abs(value) < 0.01 && value !== 0)) return value.toExponential(1);
  return String(Math.round(value * 1000) / 1000);
}

// points: [{step, value}], in any order.
export function lineChart(name, points) {
  const sorted = [...points].sort((a, b) => a.step - b.step);
  const steps = sorted.map((p) => p.step);
  const values = sorted.map((p) => p.value);
  const [x0, x1] = [Math.min(...steps), Math.max(...steps)];
  const [y0, y1] = [Math.min(...values), Math.max(...values)];
  const xScale = (x) => PAD.left + ((x - x0) / (x1 - x0 || 1)) * (WIDTH - PAD.left - PAD.right);
  const yScale = (y) => HEIGHT - PAD.bottom - ((y - y0) / (y1 - y0 || 1)) * (HEIGHT - PAD.top - PAD.bottom);
  const root = svg("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    width: WIDTH,
    height: HEIGHT,
    role: "img",
    "aria-label": `${name} over ${sorted.length} steps`,
    "data-metric": name,
    "data-points": sorted.length,
  });
  const bottom = HEIGHT - PAD.bottom;
  root.append(
    svg("line", { class: "axis", x1: PAD.left, y1: bottom, x2: WIDTH - PAD.right, y2: bottom }),
    svg("line", { class: "axis", x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: bottom }),
    svg("text", { x: PAD.left - 4, y: PAD.top + 8, "text-anchor": "end" }, short(y1)),
    svg("text", { x: PAD.left - 4, y: bottom, "text-anchor": "end" }, short(y0)),
    svg("text", { x: PAD.left, y: HEIGHT - 6 }, `step ${x0}`),
    svg("text", { x: WIDTH - PAD.right, y: HEIGHT - 6, "text-anchor": "end" }, `step ${x1}`),
  );
  const coordinates = sorted.map((p) => `${xScale(p.step).toFixed(1)},${yScale(p.value).toFixed(1)}`);
  root.append(svg("polyline", { class: "line", points: coordinates.join(" ") }));
  if (sorted.length === 1) {
    root.append(svg("circle", { class: "dot", cx: xScale(x0), cy: yScale(values[0]), r: 3 }));
  }
  const figure = document.createElement("figure");
  figure.className = "chart";
  const caption = document.createElement("figcaption");
  caption.textContent = `${name} (last ${short(values[values.length - 1])})`;
  figure.append(caption, root);
  return figure;
}
