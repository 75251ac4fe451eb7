// A tiny, safe Markdown subset for project guidelines: headings, paragraphs, **bold**, *italic*, lists, `code`,
// fenced code blocks, block quotes, rules and [links](https://...). Parsing yields a small tree; the tree becomes
// DOM nodes (text always as text nodes) or, for tests and previews elsewhere, HTML with everything escaped.
// Raw HTML is never interpreted and only absolute http(s) links keep their href.

export type Inline =
  | { type: "text"; text: string }
  | { type: "strong" | "em"; children: Inline[] }
  | { type: "code"; text: string }
  | { type: "link"; href: string; children: Inline[] };

export type Block =
  | { type: "heading"; level: 1 | 2 | 3 | 4 | 5 | 6; children: Inline[] }
  | { type: "paragraph"; children: Inline[] }
  | { type: "list"; ordered: boolean; start: number; items: Inline[][] }
  | { type: "code"; text: string }
  | { type: "quote"; children: Inline[] }
  | { type: "rule" };

/** Only absolute http(s) URLs without quotes, spaces or angle brackets become links. */
export function safeHref(url: string): string | null {
  const candidate = url.trim();
  if (!/^https?:\/\/[^\s"'<>`\\]+$/i.test(candidate)) return null;
  try {
    const parsed = new URL(candidate);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

// --- blocks

const HEADING = /^(#{1,6})\s+(.*?)(?:\s+#+)?\s*$/;
const BULLET = /^\s{0,3}[-*+]\s+(.*)$/;
const NUMBERED = /^\s{0,3}(\d{1,9})[.)]\s+(.*)$/;
const FENCE = /^\s{0,3}(```|~~~)/;
const QUOTE = /^\s{0,3}>\s?(.*)$/;
const RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;

export function parseMarkdown(source: string): Block[] {
  const lines = source.replace(/\r\n?/g, "\n").split("\n");
  const blocks: Block[] = [];
  let paragraph: string[] = [];
  const flush = () => {
    if (paragraph.length) blocks.push({ type: "paragraph", children: parseInline(paragraph.join(" ")) });
    paragraph = [];
  };

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!line.trim()) {
      flush();
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      flush();
      const body: string[] = [];
      i++;
      while (i < lines.length && !lines[i].trimStart().startsWith(fence[1])) body.push(lines[i++]);
      blocks.push({ type: "code", text: body.join("\n") });
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      flush();
      blocks.push({ type: "heading", level: heading[1].length as 1, children: parseInline(heading[2]) });
      continue;
    }
    if (RULE.test(line)) {
      flush();
      blocks.push({ type: "rule" });
      continue;
    }
    const quote = QUOTE.exec(line);
    if (quote) {
      flush();
      const body = [quote[1]];
      while (i + 1 < lines.length && QUOTE.test(lines[i + 1])) body.push(QUOTE.exec(lines[++i])![1]);
      blocks.push({ type: "quote", children: parseInline(body.join(" ")) });
      continue;
    }
    const bullet = BULLET.exec(line);
    const numbered = NUMBERED.exec(line);
    if (bullet || numbered) {
      flush();
      const ordered = !bullet;
      const itemPattern = ordered ? NUMBERED : BULLET;
      const items: string[] = [];
      let j = i;
      while (j < lines.length) {
        const item = itemPattern.exec(lines[j]);
        if (item) {
          items.push(item[ordered ? 2 : 1]);
        } else if (lines[j].trim() && /^\s+/.test(lines[j]) && !BULLET.test(lines[j]) && !NUMBERED.test(lines[j])) {
          items[items.length - 1] += " " + lines[j].trim(); // an indented continuation line
        } else {
          break;
        }
        j++;
      }
      blocks.push({
        type: "list",
        ordered,
        start: ordered ? Number(numbered![1]) : 1,
        items: items.map((text) => parseInline(text)),
      });
      i = j - 1;
      continue;
    }
    paragraph.push(line.trim());
  }
  flush();
  return blocks;
}

// --- inline

const PUNCTUATION = /[!-/:-@[-`{-~]/;
const WORD = /[\p{L}\p{N}]/u;

export function parseInline(text: string, inLink = false): Inline[] {
  const out: Inline[] = [];
  let buffer = "";
  const pushText = () => {
    if (buffer) out.push({ type: "text", text: buffer });
    buffer = "";
  };

  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === "\\" && i + 1 < text.length && PUNCTUATION.test(text[i + 1])) {
      buffer += text[i + 1];
      i += 2;
      continue;
    }
    if (ch === "`") {
      const run = /^`+/.exec(text.slice(i))![0];
      const close = text.indexOf(run, i + run.length);
      if (close > 0) {
        pushText();
        let code = text.slice(i + run.length, close);
        if (code.length > 2 && code.startsWith(" ") && code.endsWith(" ")) code = code.slice(1, -1);
        out.push({ type: "code", text: code });
        i = close + run.length;
      } else {
        buffer += run;
        i += run.length;
      }
      continue;
    }
    if (ch === "[" && !inLink) {
      const link = matchLink(text, i);
      if (link) {
        pushText();
        const children = parseInline(link.label, true);
        const href = safeHref(link.url);
        if (href) out.push({ type: "link", href, children });
        else out.push(...children); // an unsafe or relative link keeps its words and loses its target
        i = link.end;
        continue;
      }
    }
    if ((ch === "*" || ch === "_") && text.startsWith(ch.repeat(3), i)) {
      const close = text.indexOf(ch.repeat(3), i + 3);
      if (close > i + 3 && !/\s/.test(text[i + 3]) && !/\s/.test(text[close - 1])) {
        pushText();
        out.push({ type: "em", children: [{ type: "strong", children: parseInline(text.slice(i + 3, close), inLink) }] });
        i = close + 3;
        continue;
      }
    }
    if (ch === "*" || ch === "_") {
      const double = text[i + 1] === ch;
      const delim = double ? ch + ch : ch;
      const close = findClosing(text, i + delim.length, delim);
      const before = i > 0 ? text[i - 1] : " ";
      const opens = !/\s/.test(text[i + delim.length] ?? " ") && !(ch === "_" && WORD.test(before));
      if (opens && close > i + delim.length) {
        pushText();
        out.push({ type: double ? "strong" : "em", children: parseInline(text.slice(i + delim.length, close), inLink) });
        i = close + delim.length;
        continue;
      }
      buffer += delim;
      i += delim.length;
      continue;
    }
    buffer += ch;
    i++;
  }
  pushText();
  return out;
}

/** The closing delimiter for emphasis opened before `from`, or -1. */
function findClosing(text: string, from: number, delim: string): number {
  const ch = delim[0];
  for (let i = from; i < text.length; i++) {
    if (text[i] === "\\") {
      i++;
      continue;
    }
    if (text[i] === "`") {
      const run = /^`+/.exec(text.slice(i))![0];
      const close = text.indexOf(run, i + run.length);
      if (close > 0) i = close + run.length - 1;
      continue;
    }
    if (i === from || !text.startsWith(delim, i)) continue; // emphasis needs some content
    if (delim.length === 1 && text[i + 1] === ch) {
      i++; // part of a double delimiter: not ours
      continue;
    }
    const after = text[i + delim.length] ?? " ";
    if (/\s/.test(text[i - 1])) continue; // a closing delimiter hugs its text
    if (ch === "_" && WORD.test(after)) continue; // snake_case words stay as they are
    return i;
  }
  return -1;
}

function matchLink(text: string, start: number): { label: string; url: string; end: number } | null {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    if (text[i] === "\\") {
      i++;
    } else if (text[i] === "[") {
      depth++;
    } else if (text[i] === "]") {
      depth--;
      if (depth === 0) {
        // The target may hold balanced parentheses one level deep, e.g. https://en.wikipedia.org/wiki/Foo_(bar).
        const target = /^\(\s*((?:[^\s()]|\([^\s()]*\))*)\s*\)/.exec(text.slice(i + 1));
        if (!target) return null;
        return { label: text.slice(start + 1, i), url: target[1], end: i + 1 + target[0].length };
      }
    }
  }
  return null;
}

// --- output

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

function inlineHtml(nodes: Inline[]): string {
  return nodes
    .map((node) => {
      switch (node.type) {
        case "text":
          return escapeHtml(node.text);
        case "code":
          return `<code>${escapeHtml(node.text)}</code>`;
        case "strong":
        case "em":
          return `<${node.type}>${inlineHtml(node.children)}</${node.type}>`;
        case "link":
          return `<a href="${escapeHtml(node.href)}" rel="noopener noreferrer nofollow" target="_blank">${inlineHtml(node.children)}</a>`;
      }
    })
    .join("");
}

/** Markdown as an HTML string in which every piece of source text is escaped. */
export function markdownToHtml(source: string): string {
  return parseMarkdown(source)
    .map((block) => {
      switch (block.type) {
        case "heading":
          return `<h${block.level}>${inlineHtml(block.children)}</h${block.level}>`;
        case "paragraph":
          return `<p>${inlineHtml(block.children)}</p>`;
        case "quote":
          return `<blockquote>${inlineHtml(block.children)}</blockquote>`;
        case "code":
          return `<pre><code>${escapeHtml(block.text)}</code></pre>`;
        case "rule":
          return "<hr>";
        case "list": {
          const tag = block.ordered ? "ol" : "ul";
          const start = block.ordered && block.start !== 1 ? ` start="${block.start}"` : "";
          return `<${tag}${start}>${block.items.map((item) => `<li>${inlineHtml(item)}</li>`).join("")}</${tag}>`;
        }
      }
    })
    .join("\n");
}

function inlineDom(nodes: Inline[]): Node[] {
  return nodes.map((node) => {
    switch (node.type) {
      case "text":
        return document.createTextNode(node.text);
      case "code": {
        const el = document.createElement("code");
        el.textContent = node.text;
        return el;
      }
      case "strong":
      case "em": {
        const el = document.createElement(node.type);
        el.append(...inlineDom(node.children));
        return el;
      }
      case "link": {
        const el = document.createElement("a");
        el.href = node.href;
        el.rel = "noopener noreferrer nofollow";
        el.target = "_blank";
        el.append(...inlineDom(node.children));
        return el;
      }
    }
  });
}

/** Markdown as DOM nodes (text nodes only for source text). */
export function markdownToDom(source: string): Node[] {
  return parseMarkdown(source).map((block) => {
    const make = (tag: string, children: Node[]) => {
      const el = document.createElement(tag);
      el.append(...children);
      return el;
    };
    switch (block.type) {
      case "heading":
        return make(`h${block.level}`, inlineDom(block.children));
      case "paragraph":
        return make("p", inlineDom(block.children));
      case "quote":
        return make("blockquote", inlineDom(block.children));
      case "code": {
        const code = document.createElement("code");
        code.textContent = block.text;
        return make("pre", [code]);
      }
      case "rule":
        return document.createElement("hr");
      case "list": {
        const list = make(block.ordered ? "ol" : "ul", block.items.map((item) => make("li", inlineDom(item))));
        if (block.ordered && block.start !== 1) (list as HTMLOListElement).start = block.start;
        return list;
      }
    }
  });
}
