import { describe, expect, it } from "vitest";
import { SegmentRuleError, SegmentTable } from "../../src/core/segments";
import { nameSegments, type SegmentNames } from "../../src/pages/editorMessages";

// Issue 16 item 19: errors name segments as users see them ("person #1"), never by ids.
const CLASSES = [{ id: 9, kind: "thing" as const }, { id: 4, kind: "stuff" as const }];
const NAMES: Record<number, string> = { 9: "person", 4: "sky" };

function namesOf(table: SegmentTable): SegmentNames {
  return {
    segment: (id) => {
      const row = table.get(id);
      if (!row) return null;
      return `${NAMES[row.classId]}${row.instance !== null ? ` #${row.instance}` : ""}`;
    },
    className: (id) => NAMES[id] ?? null,
  };
}

function thrown(action: () => void): string {
  try {
    action();
  } catch (err) {
    if (err instanceof SegmentRuleError) return err.message;
    throw err;
  }
  throw new Error("no SegmentRuleError");
}

describe("nameSegments", () => {
  const table = new SegmentTable(CLASSES);
  table.add({ segmentId: 2, classId: 9 }); // person #1
  table.add({ segmentId: 5, classId: 9 }); // person #2
  table.add({ segmentId: 7, classId: 4 }); // sky
  const names = namesOf(table);

  it("names a taken instance number by class and number (the segment table's own message)", () => {
    const message = thrown(() => table.update(5, { instance: 1 }));
    expect(message).toMatch(/instance 1 of class 9 .* segment 2/); // what it says without names
    expect(nameSegments(message, names)).toBe(
      "There is already a person #1: give this one another instance number, or merge the two");
  });

  it("names a second stuff segment and the segment to merge", () => {
    const message = thrown(() => table.add({ segmentId: 8, classId: 4 }));
    const named = nameSegments(message, names);
    expect(named).toBe("There is already a sky segment: paint into it, or merge a deleted segment into it");
    expect(nameSegments("stuff class 4 already has segment 7; paint into it or merge segment 5 into it", names))
      .toBe("There is already a sky segment: paint into it, or merge person #2 into it");
  });

  it("rewrites the server's messages inside the save status too", () => {
    expect(nameSegments("The server refused the save: instance 1 of 'person' is used by segments 2 and 5", names))
      .toBe("The server refused the save: two segments are person #1: give one of them another instance number, or merge them");
    expect(nameSegments("stuff class 'sky' already has segment 7; merge segment 5 into it", names))
      .toBe("There is already a sky segment: merge person #2 into it");
    expect(nameSegments(`segment 7: stuff class "it's" has no instances`, names))
      .toBe("Sky: it's is stuff and has no instance numbers");
    expect(nameSegments("segment 5: score must be a finite number", names)).toBe("Person #2: score must be a finite number");
  });

  it("leaves messages without ids alone, and keeps an unknown class's id", () => {
    expect(nameSegments("create a class first (project settings)", names)).toBe("Create a class first (project settings)");
    expect(nameSegments("segment 5: class 12 is not a class of this project", names))
      .toBe("Person #2: class 12 is not a class of this project");
    expect(nameSegments("a stuff class has one segment per image; it cannot be split", names))
      .toBe("A stuff class has one segment per image; it cannot be split");
  });
});
