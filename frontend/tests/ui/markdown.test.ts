import { describe, expect, it } from "vitest";
import { escapeHtml, markdownToHtml, parseInline, parseMarkdown, safeHref } from "../../src/ui/markdown";

const html = (source: string) => markdownToHtml(source);

describe("markdown blocks", () => {
  it("renders headings, paragraphs and lists", () => {
    expect(html("# Title\n\nSome text\non two lines.\n\n## Sub")).toBe("<h1>Title</h1>\n<p>Some text on two lines.</p>\n<h2>Sub</h2>");
    expect(html("* one\n* two\n  continued\n- three")).toBe("<ul><li>one</li><li>two continued</li><li>three</li></ul>");
    expect(html("1. first\n2. second")).toBe("<ol><li>first</li><li>second</li></ol>");
    expect(html("3. third\n4. fourth")).toBe('<ol start="3"><li>third</li><li>fourth</li></ol>');
    expect(html("####### seven")).toBe("<p>####### seven</p>");
    expect(html("---")).toBe("<hr>");
    expect(html("> quoted\n> more")).toBe("<blockquote>quoted more</blockquote>");
  });

  it("keeps fenced code verbatim (escaped)", () => {
    expect(html("```js\nconst a = 1 < 2 && **b**;\n```")).toBe("<pre><code>const a = 1 &lt; 2 &amp;&amp; **b**;</code></pre>");
    expect(html("```\nunclosed <b>")).toBe("<pre><code>unclosed &lt;b&gt;</code></pre>");
  });

  it("handles empty and whitespace input", () => {
    expect(parseMarkdown("")).toEqual([]);
    expect(html("\n\n   \n")).toBe("");
  });
});

describe("markdown inline", () => {
  it("renders bold, italic and code", () => {
    expect(html("**bold** and *italic* and __b__ and _i_ and `x < y`")).toBe(
      "<p><strong>bold</strong> and <em>italic</em> and <strong>b</strong> and <em>i</em> and <code>x &lt; y</code></p>",
    );
    expect(html("***both***")).toBe("<p><em><strong>both</strong></em></p>");
    expect(html("**bold with *italic* inside**")).toBe("<p><strong>bold with <em>italic</em> inside</strong></p>");
  });

  it("leaves snake_case, lone stars and escapes alone", () => {
    expect(html("use snake_case_names here")).toBe("<p>use snake_case_names here</p>");
    expect(html("2 * 3 * 4")).toBe("<p>2 * 3 * 4</p>");
    expect(html("\\*not italic\\*")).toBe("<p>*not italic*</p>");
    expect(html("**unclosed")).toBe("<p>**unclosed</p>");
    expect(html("`code with **stars**`")).toBe("<p><code>code with **stars**</code></p>");
  });

  it("renders http(s) links", () => {
    expect(html("see [the docs](https://example.com/a?b=1&c=2)")).toBe(
      '<p>see <a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer nofollow" target="_blank">the docs</a></p>',
    );
    expect(html("[**bold** link](http://example.com)")).toContain("<strong>bold</strong> link</a>");
    expect(html("[Foo](https://en.wikipedia.org/wiki/Foo_(bar))")).toContain('href="https://en.wikipedia.org/wiki/Foo_(bar)"');
  });
});

describe("markdown safety", () => {
  const attacks = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    '<a href="javascript:alert(1)">x</a>',
    "<svg/onload=alert(1)>",
    "**<img src=x onerror=alert(1)>**",
    "# <iframe src=javascript:alert(1)>",
    "* <b onmouseover=alert(1)>hi</b>",
    "`<img src=x onerror=alert(1)>`",
    "> <style>body{display:none}</style>",
  ];

  it.each(attacks)("escapes raw HTML: %s", (source) => {
    const out = html(source);
    expect(out).not.toMatch(/<(img|script|svg|iframe|b |style|a )/i);
    expect(out).toContain("&lt;");
  });

  it("drops the target of javascript:, data: and other non-http links", () => {
    const unsafe = [
      "[click](javascript:alert(1))",
      "[click](JaVaScRiPt:alert(1))",
      "[click]( javascript:alert(1) )",
      "[click](javascript&#58;alert(1))",
      "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
      "[click](vbscript:msgbox(1))",
      "[click](//evil.example/x)",
      "[click](/relative/path)",
      "[click](ftp://example.com)",
    ];
    for (const source of unsafe) {
      const out = html(source);
      expect(out, source).not.toContain("href");
      expect(out, source).toBe("<p>click</p>");
    }
  });

  it("cannot break out of the href attribute", () => {
    for (const source of ['[x](https://a.example/"onmouseover="alert(1))', "[x](https://a.example/'onmouseover='alert(1))", "[x](https://a.example/<script>)"]) {
      const out = html(source);
      expect(out, source).not.toMatch(/onmouseover="/);
      expect(out, source).not.toContain("<script");
    }
  });

  it("safeHref accepts only absolute http(s) URLs", () => {
    expect(safeHref("https://example.com/x")).toBe("https://example.com/x");
    expect(safeHref("HTTP://EXAMPLE.com")).toBe("http://example.com/");
    expect(safeHref("javascript:alert(1)")).toBeNull();
    expect(safeHref("java\tscript:alert(1)")).toBeNull();
    expect(safeHref("https://")).toBeNull();
    expect(safeHref("mailto:a@b.c")).toBeNull();
  });

  it("parses attacks into text nodes, never markup", () => {
    const nodes = parseInline("<img src=x onerror=alert(1)> [a](javascript:x)");
    expect(nodes.every((n) => n.type === "text")).toBe(true);
    expect(nodes.map((n) => (n.type === "text" ? n.text : "")).join("")).toBe("<img src=x onerror=alert(1)> a");
  });

  it("escapeHtml escapes the five special characters", () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe("&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;");
  });
});
