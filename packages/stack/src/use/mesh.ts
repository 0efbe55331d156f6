// Is a downloaded mesh a mesh? A PLY (the reconstruction's mesh.ply: binary little-endian, or ASCII) with vertices
// and faces, whose body holds exactly what its header declares, with finite coordinates and face indices in range.
import { UseError } from "./errors.js";

export interface MeshInfo {
  format: "binary_little_endian" | "ascii";
  vertices: number;
  faces: number;
  bytes: number;
  /** Axis-aligned bounds of the vertices. */
  bounds: { min: [number, number, number]; max: [number, number, number] };
}

const SIZES: Record<string, number> = {
  char: 1,
  uchar: 1,
  int8: 1,
  uint8: 1,
  short: 2,
  ushort: 2,
  int16: 2,
  uint16: 2,
  int: 4,
  uint: 4,
  int32: 4,
  uint32: 4,
  float: 4,
  float32: 4,
  double: 8,
  float64: 8,
};

interface Property {
  name: string;
  type: string;
  list?: { count: string; item: string };
}
interface Element {
  name: string;
  count: number;
  properties: Property[];
}

const invalid = (what: string, detail: string) =>
  new UseError(`${what} is not a valid mesh: ${detail}`, {
    hint: "the reconstruction's outputs may be incomplete; run it again, or read the job's report.json",
  });

function read(data: Buffer, type: string, offset: number): number {
  switch (type) {
    case "char":
    case "int8":
      return data.readInt8(offset);
    case "uchar":
    case "uint8":
      return data.readUInt8(offset);
    case "short":
    case "int16":
      return data.readInt16LE(offset);
    case "ushort":
    case "uint16":
      return data.readUInt16LE(offset);
    case "int":
    case "int32":
      return data.readInt32LE(offset);
    case "uint":
    case "uint32":
      return data.readUInt32LE(offset);
    case "float":
    case "float32":
      return data.readFloatLE(offset);
    default:
      return data.readDoubleLE(offset);
  }
}

/** Parses and checks a PLY mesh; throws a UseError saying what is wrong. `what` names it in the message. */
export function checkPlyMesh(data: Buffer, what = "the mesh"): MeshInfo {
  const end = data.indexOf("end_header\n");
  if (data.subarray(0, 4).toString("latin1") !== "ply\n" || end < 0)
    throw invalid(what, `not a PLY file (${data.length} bytes)`);
  const header = data.subarray(0, end).toString("latin1").split("\n");
  const format = header.find((l) => l.startsWith("format "))?.split(/\s+/)[1];
  if (format !== "binary_little_endian" && format !== "ascii")
    throw invalid(what, `unsupported PLY format ${format ?? "(none)"}`);
  const elements: Element[] = [];
  for (const line of header) {
    const words = line.trim().split(/\s+/);
    if (words[0] === "element") elements.push({ name: words[1]!, count: Number(words[2]), properties: [] });
    else if (words[0] === "property") {
      const current = elements.at(-1);
      if (!current) throw invalid(what, "a property before any element");
      if (words[1] === "list")
        current.properties.push({ name: words[4]!, type: "list", list: { count: words[2]!, item: words[3]! } });
      else current.properties.push({ name: words[2]!, type: words[1]! });
    }
  }
  for (const e of elements) {
    if (!Number.isInteger(e.count) || e.count < 0) throw invalid(what, `element ${e.name} has count ${e.count}`);
    for (const p of e.properties) {
      const types = p.list ? [p.list.count, p.list.item] : [p.type];
      for (const t of types) if (!(t in SIZES)) throw invalid(what, `property ${p.name} has unknown type ${t}`);
    }
  }
  const vertex = elements.find((e) => e.name === "vertex");
  const face = elements.find((e) => e.name === "face");
  if (!vertex || vertex.count === 0) throw invalid(what, "no vertices");
  if (!face || face.count === 0) throw invalid(what, `${vertex.count} vertices but no faces (a point cloud)`);
  const axes = ["x", "y", "z"].map((a) => vertex.properties.findIndex((p) => p.name === a));
  if (axes.some((i) => i < 0)) throw invalid(what, "the vertices lack x, y or z");
  const indexProp = face.properties.findIndex(
    (p) => p.list && (p.name === "vertex_indices" || p.name === "vertex_index"),
  );
  if (indexProp < 0) throw invalid(what, "the faces lack a vertex_indices list");

  const min: [number, number, number] = [Infinity, Infinity, Infinity];
  const max: [number, number, number] = [-Infinity, -Infinity, -Infinity];
  const seeVertex = (values: number[]) => {
    for (let k = 0; k < 3; k++) {
      const v = values[axes[k]!]!;
      if (!Number.isFinite(v)) throw invalid(what, "a vertex coordinate is not finite");
      if (v < min[k]!) min[k] = v;
      if (v > max[k]!) max[k] = v;
    }
  };
  const seeFace = (indices: number[], n: number) => {
    if (indices.length < 3) throw invalid(what, `face ${n} has ${indices.length} vertices`);
    for (const i of indices)
      if (!Number.isInteger(i) || i < 0 || i >= vertex.count)
        throw invalid(what, `face ${n} refers to vertex ${i} of ${vertex.count}`);
  };

  const bodyStart = end + "end_header\n".length;
  if (format === "ascii") {
    const lines = data
      .subarray(bodyStart)
      .toString("latin1")
      .split("\n")
      .filter((l) => l.trim());
    let row = 0;
    for (const e of elements) {
      for (let n = 0; n < e.count; n++, row++) {
        const line = lines[row];
        if (line === undefined) throw invalid(what, `the body ends inside element ${e.name} (${n} of ${e.count})`);
        const numbers = line.trim().split(/\s+/).map(Number);
        if (e === vertex) seeVertex(numbers);
        if (e === face) seeFace(numbers.slice(1, 1 + numbers[0]!), n);
      }
    }
  } else {
    let offset = bodyStart;
    for (const e of elements) {
      const fixed = e.properties.every((p) => !p.list);
      const stride = fixed ? e.properties.reduce((s, p) => s + SIZES[p.type]!, 0) : 0;
      for (let n = 0; n < e.count; n++) {
        if (fixed && e !== vertex) {
          offset += stride;
          continue;
        }
        const values: number[] = [];
        let indices: number[] = [];
        for (const [pi, p] of e.properties.entries()) {
          if (p.list) {
            if (offset + SIZES[p.list.count]! > data.length) throw invalid(what, `the body ends inside ${e.name} ${n}`);
            const k = read(data, p.list.count, offset);
            offset += SIZES[p.list.count]!;
            const item = SIZES[p.list.item]!;
            if (offset + k * item > data.length) throw invalid(what, `the body ends inside ${e.name} ${n}`);
            const list: number[] = [];
            for (let j = 0; j < k; j++) list.push(read(data, p.list.item, offset + j * item));
            offset += k * item;
            if (e === face && pi === indexProp) indices = list;
            values.push(Number.NaN);
          } else {
            const size = SIZES[p.type]!;
            if (offset + size > data.length) throw invalid(what, `the body ends inside ${e.name} ${n} of ${e.count}`);
            values.push(read(data, p.type, offset));
            offset += size;
          }
        }
        if (e === vertex) seeVertex(values);
        if (e === face) seeFace(indices, n);
      }
      if (offset > data.length) throw invalid(what, `the body ends inside element ${e.name}`);
    }
    if (offset !== data.length)
      throw invalid(what, `${data.length - offset} bytes after the last element the header declares`);
  }
  return { format, vertices: vertex.count, faces: face.count, bytes: data.length, bounds: { min, max } };
}
