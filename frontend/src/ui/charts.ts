// Small SVG charts for the dashboard: a stacked area over days, horizontal bars, a histogram and a line of points. No chart
// library: a few hundred points at most, drawn once. The scale helpers are pure (unit-tested).
const SVG = "http://www.w3.org/2000/svg";

/** The chart's root: scales down to narrow panels, never up (text stays at its size). */
function chartRoot(width: number, height: number, title: string): SVGSVGElement {
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": title });
  root.style.maxWidth = `${width}px`;
  return root;
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** A round axis maximum at or above `v` (1, 2, 2.5 or 5 times a power of ten). */
export function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** Cumulative sums of the series, bottom first: stacked[i][d] is the top of series i on day d. */
export function stack(series: ReadonlyArray<ReadonlyArray<number>>): number[][] {
  const out: number[][] = [];
  series.forEach((values, i) => out.push(values.map((v, d) => v + (i ? out[i - 1][d] : 0))));
  return out;
}

export interface Series {
  name: string;
  color: string;
  values: number[];
}

function legend(series: ReadonlyArray<{ name: string; color: string }>): HTMLElement {
  const el = document.createElement("div");
  el.className = "chart-legend";
  for (const s of series) {
    const item = document.createElement("span");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = s.color;
    item.append(swatch, ` ${s.name}`);
    el.append(item);
  }
  return el;
}

/** Stacked areas over `labels` (days), e.g. images per state. */
export function stackedArea(labels: string[], series: Series[], opts: { title: string; width?: number; height?: number }): HTMLElement {
  const W = opts.width ?? 640;
  const H = opts.height ?? 220;
  const pad = { l: 44, r: 8, t: 8, b: 24 };
  const tops = stack(series.map((s) => s.values));
  const max = niceMax(Math.max(0, ...(tops.at(-1) ?? [0])));
  const n = Math.max(labels.length, 1);
  const x = (d: number) => pad.l + (n === 1 ? (W - pad.l - pad.r) / 2 : (d / (n - 1)) * (W - pad.l - pad.r));
  const y = (v: number) => H - pad.b - (v / max) * (H - pad.t - pad.b);
  const root = chartRoot(W, H, opts.title);
  for (const f of [0, 0.5, 1]) {
    root.append(svg("line", { x1: pad.l, x2: W - pad.r, y1: y(max * f), y2: y(max * f), class: "chart-grid" }));
    root.append(svg("text", { x: pad.l - 6, y: y(max * f) + 4, "text-anchor": "end", class: "chart-tick" }, String(max * f)));
  }
  series.forEach((s, i) => {
    const top = tops[i].map((v, d) => `${x(d)},${y(v)}`);
    const bottom = (i ? tops[i - 1] : tops[i].map(() => 0)).map((v, d) => `${x(d)},${y(v)}`).reverse();
    if (n === 1) {
      root.append(svg("rect", { x: x(0) - 12, width: 24, y: y(tops[i][0]), height: Math.max(0, y(i ? tops[i - 1][0] : 0) - y(tops[i][0])), fill: s.color }));
    } else root.append(svg("polygon", { points: [...top, ...bottom].join(" "), fill: s.color, "fill-opacity": 0.85 }, undefined));
  });
  if (labels.length) {
    root.append(svg("text", { x: x(0), y: H - 6, class: "chart-tick" }, labels[0]));
    if (labels.length > 1) root.append(svg("text", { x: x(n - 1), y: H - 6, "text-anchor": "end", class: "chart-tick" }, labels[n - 1]));
  }
  return figure(opts.title, root, legend(series));
}

export interface Bar {
  label: string;
  value: number;
  color?: string;
  /** Shown after the bar instead of the value. */
  text?: string;
}

/** At most `max` characters, with an ellipsis in the middle (names often differ at their ends). */
export function shorten(text: string, max: number): string {
  if (text.length <= max) return text;
  const head = Math.ceil((max - 1) / 2);
  return `${text.slice(0, head)}…${text.slice(text.length - (max - 1 - head))}`;
}

/** Horizontal bars, one per item. */
export function bars(items: Bar[], opts: { title: string; width?: number; max?: number }): HTMLElement {
  const W = opts.width ?? 640;
  const row = 22;
  const pad = { l: 134, r: 150 };
  const H = Math.max(1, items.length) * row + 8;
  const max = opts.max ?? niceMax(Math.max(0, ...items.map((b) => b.value)));
  const root = chartRoot(W, H, opts.title);
  items.forEach((b, i) => {
    const yy = 4 + i * row;
    const w = max > 0 ? (b.value / max) * (W - pad.l - pad.r) : 0;
    const label = svg("text", { x: pad.l - 6, y: yy + 14, "text-anchor": "end", class: "chart-label" }, shorten(b.label, 16));
    label.append(svg("title", {}, b.label));
    root.append(label);
    root.append(svg("rect", { x: pad.l, y: yy + 3, width: Math.max(w, b.value > 0 ? 1 : 0), height: row - 8, fill: b.color ?? "#3b6fd8", rx: 2 }));
    root.append(svg("text", { x: pad.l + w + 6, y: yy + 14, class: "chart-tick" }, b.text ?? b.value.toLocaleString()));
  });
  if (!items.length) root.append(svg("text", { x: W / 2, y: 16, "text-anchor": "middle", class: "chart-tick" }, "No data yet"));
  return figure(opts.title, root);
}

/** Counts of scores in equal bins over 0..1. */
export function histogram(counts: number[], opts: { title: string; width?: number; height?: number; color?: string }): HTMLElement {
  const W = opts.width ?? 310;
  const H = opts.height ?? 160;
  const pad = { l: 30, r: 6, t: 8, b: 22 };
  const max = niceMax(Math.max(0, ...counts));
  const bw = (W - pad.l - pad.r) / Math.max(1, counts.length);
  const root = chartRoot(W, H, opts.title);
  counts.forEach((c, i) => {
    const h = (c / max) * (H - pad.t - pad.b);
    root.append(svg("rect", { x: pad.l + i * bw + 1, y: H - pad.b - h, width: bw - 2, height: h, fill: opts.color ?? "#7b4fd8" }));
  });
  root.append(svg("text", { x: pad.l - 4, y: pad.t + 8, "text-anchor": "end", class: "chart-tick" }, String(max)));
  root.append(svg("text", { x: pad.l, y: H - 6, class: "chart-tick" }, "0"));
  root.append(svg("text", { x: W - pad.r, y: H - 6, "text-anchor": "end", class: "chart-tick" }, "1"));
  return figure(opts.title, root);
}

export interface LinePoint {
  x: number;
  y: number;
  /** The point's tooltip. */
  title?: string;
}

/** Points joined by a line, x and y from 0 (y up to `yMax`, else a round maximum), e.g. a learning curve. */
export function lineChart(points: LinePoint[], opts: { title: string; xLabel: string; yLabel: string; width?: number; height?: number; yMax?: number; color?: string }): HTMLElement {
  const W = opts.width ?? 640;
  const H = opts.height ?? 200;
  const pad = { l: 44, r: 12, t: 10, b: 38 };
  const xMax = niceMax(Math.max(0, ...points.map((p) => p.x)));
  const yMax = opts.yMax ?? niceMax(Math.max(0, ...points.map((p) => p.y)));
  const x = (v: number) => pad.l + (v / xMax) * (W - pad.l - pad.r);
  const y = (v: number) => H - pad.b - (v / yMax) * (H - pad.t - pad.b);
  const color = opts.color ?? "#3b6fd8";
  const root = chartRoot(W, H, opts.title);
  for (const f of [0, 0.5, 1]) {
    root.append(svg("line", { x1: pad.l, x2: W - pad.r, y1: y(yMax * f), y2: y(yMax * f), class: "chart-grid" }));
    root.append(svg("text", { x: pad.l - 6, y: y(yMax * f) + 4, "text-anchor": "end", class: "chart-tick" }, String(yMax * f)));
  }
  root.append(svg("text", { x: pad.l, y: H - 22, class: "chart-tick" }, "0"));
  root.append(svg("text", { x: W - pad.r, y: H - 22, "text-anchor": "end", class: "chart-tick" }, String(xMax)));
  root.append(svg("text", { x: (pad.l + W - pad.r) / 2, y: H - 4, "text-anchor": "middle", class: "chart-tick" }, opts.xLabel));
  root.append(svg("text", { x: 10, y: (pad.t + H - pad.b) / 2, "text-anchor": "middle", class: "chart-tick",
    transform: `rotate(-90 10 ${(pad.t + H - pad.b) / 2})` }, opts.yLabel));
  if (points.length > 1) {
    root.append(svg("polyline", { points: points.map((p) => `${x(p.x)},${y(p.y)}`).join(" "), fill: "none", stroke: color, "stroke-width": 2 }));
  }
  for (const p of points) {
    const dot = svg("circle", { cx: x(p.x), cy: y(p.y), r: 4, fill: color, class: "chart-point" });
    if (p.title) dot.append(svg("title", {}, p.title));
    root.append(dot);
  }
  if (!points.length) root.append(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "chart-tick" }, "No data yet"));
  return figure(opts.title, root);
}

function figure(title: string, chart: SVGElement, ...extra: HTMLElement[]): HTMLElement {
  const el = document.createElement("figure");
  el.className = "chart-figure";
  const caption = document.createElement("figcaption");
  caption.textContent = title;
  el.append(caption, chart, ...extra);
  return el;
}
