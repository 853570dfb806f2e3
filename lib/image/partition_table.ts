/**
 * Partition tables written by `sfdisk` into a plain file: no loop devices, no root.
 * The script pins every start, size, type, label-id and partition UUID, so the table
 * is the same bytes on every run.
 *
 * ```ts
 * await writePartitionTable("disk.img", planDisk(board.partitions, board.name));
 * ```
 */
import $ from "dax";
import type { DiskPlan } from "./layout.ts";

const SECTOR = 512;

/** GPT type aliases usable in `boards/*.yaml` (a full type GUID works too). */
export const GPT_TYPES: Record<string, string> = {
  esp: "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
  linux: "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
  "root-x86-64": "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709",
  "root-arm64": "B921B045-1DF0-41C3-AF44-4C6F280D3FAE",
};

/** The partition type as sfdisk wants it, or an error naming the partition. */
export function sfdiskType(table: "mbr" | "gpt", name: string, type: string): string {
  if (table === "mbr") {
    if (!/^[0-9a-f]{2}$/i.test(type)) {
      throw new Error(`partition "${name}": MBR type "${type}" must be a hex byte like 0c or 83`);
    }
    return type.toLowerCase();
  }
  const guid = GPT_TYPES[type] ??
    (/^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/i.test(type) ? type.toUpperCase() : undefined);
  if (!guid) {
    throw new Error(
      `partition "${name}": GPT type "${type}" is neither a GUID nor one of ${
        Object.keys(GPT_TYPES).join(", ")
      }`,
    );
  }
  return guid;
}

/** The sfdisk input script for a plan (exported for tests and `--explain`). */
export function sfdiskScript(plan: DiskPlan): string {
  const lines = [
    `label: ${plan.table === "mbr" ? "dos" : "gpt"}`,
    `label-id: ${plan.labelId}`,
    "unit: sectors",
    `sector-size: ${SECTOR}`,
  ];
  if (plan.table === "gpt") lines.push("first-lba: 2048", `last-lba: ${plan.size / SECTOR - 2049}`);
  lines.push("");
  for (const p of plan.partitions) {
    const fields = [
      `start=${p.start / SECTOR}`,
      `size=${p.bytes / SECTOR}`,
      `type=${sfdiskType(plan.table, p.name, p.type)}`,
    ];
    if (plan.table === "gpt") fields.push(`uuid=${p.uuid.toUpperCase()}`, `name="${p.name}"`);
    lines.push(fields.join(", "));
  }
  return lines.join("\n") + "\n";
}

/** Create `file` with the plan's size (sparse) and write the partition table into it. */
export async function writePartitionTable(file: string, plan: DiskPlan): Promise<void> {
  {
    using f = await Deno.open(file, { write: true, create: true, truncate: true });
    await f.truncate(plan.size);
  }
  await $`sfdisk --no-reread --no-tell-kernel --wipe always ${file}`
    .stdinText(sfdiskScript(plan))
    .stdout("null")
    .env({ LC_ALL: "C" });
}
