// Messages about segments, as users see them. The segment rules (core/segments.ts in the browser, the label-map
// service on the server) name segments by their ids and classes by theirs ("instance 1 of class 9 is already used
// by segment 2"): right for the API, meaningless in the editor, where a segment is "person #1" and a stuff segment
// is its class ("sky"). The editor passes every message it shows through `nameSegments`. No DOM here.

export interface SegmentNames {
  /** "person #1" for a thing, "sky" for stuff; null for a segment the editor does not know. */
  segment(segmentId: number): string | null;
  /** The class's name; null for an unknown class. */
  className(classId: number): string | null;
}

type Rule = [RegExp, (names: SegmentNames, ...groups: string[]) => string];

// A Python repr of a class name: 'sky', or "it's" when the name holds a quote.
const QUOTED = `(?:'([^']*)'|"([^"]*)")`;
const quoted = (single: string | undefined, double: string | undefined) => single ?? double ?? "";

function segmentName(names: SegmentNames, id: string): string {
  return names.segment(Number(id)) ?? "a deleted segment";
}

function className(names: SegmentNames, id: string): string {
  return names.className(Number(id)) ?? `class ${id}`;
}

// The known sentences first (their whole meaning changes with the names), then single references.
const RULES: Rule[] = [
  // core/segments.ts: a thing's instance number that another segment has.
  [/instance (\d+) of class (\d+) is already used by segment (\d+)/g,
    (n, instance, cls) => `there is already a ${className(n, cls)} #${instance}: give this one another instance number, or merge the two`],
  // The server's: two segments of a save with the same instance.
  [new RegExp(`instance (\\d+) of ${QUOTED} is used by segments (\\d+) and (\\d+)`, "g"),
    (_n, instance, single, double) => `two segments are ${quoted(single, double)} #${instance}: give one of them another instance number, or merge them`],
  // core/segments.ts: a second segment of a stuff class.
  [/stuff class (\d+) already has segment (\d+); paint into it or merge segment (\d+) into it/g,
    (n, cls, _owner, other) => `there is already a ${className(n, cls)} segment: paint into it, or merge ${segmentName(n, other)} into it`],
  // The server's.
  [new RegExp(`stuff class ${QUOTED} already has segment (\\d+); merge segment (\\d+) into it`, "g"),
    (n, single, double, _owner, other) => `there is already a ${quoted(single, double)} segment: merge ${segmentName(n, other)} into it`],
  // Both: an instance number on a stuff segment.
  [new RegExp(`segment (\\d+): stuff class (?:(\\d+)|${QUOTED}) has no instances`, "g"),
    (n, id, cls, single, double) => `${segmentName(n, id)}: ${cls ? className(n, cls) : quoted(single, double)} is stuff and has no instance numbers`],
  [/segments (\d+) and (\d+)/g, (n, a, b) => `${segmentName(n, a)} and ${segmentName(n, b)}`],
  [/(?<!stuff )class (\d+)/g, (n, cls) => `class ${n.className(Number(cls)) ?? cls}`],
  [/segment (\d+)/g, (n, id) => segmentName(n, id)],
];

/** The message with segment and class ids replaced by what the editor shows for them. */
export function nameSegments(message: string, names: SegmentNames): string {
  let out = message;
  for (const [pattern, render] of RULES) {
    out = out.replace(pattern, (...args: unknown[]) => {
      const groups = args.slice(1, -2).map((g) => (typeof g === "string" ? g : undefined)) as string[];
      return render(names, ...groups);
    });
  }
  return out.charAt(0).toUpperCase() + out.slice(1);
}
