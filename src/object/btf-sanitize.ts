// Make a program's BTF acceptable to an older kernel: replace the kinds it
// does not know with kinds it does, keeping every type id (func_info,
// line_info and map BTF ids refer to them) and every string offset.

import {Btf, BtfLinkage, type BtfType} from './btf.js';
import {kernelVersionCode} from './kconfig.js';

/** What a kernel's BTF loader accepts. `true` = supported. */
export interface BtfFeatures {
  /** FUNC and FUNC_PROTO (4.20/5.0). */
  func: boolean;
  /** VAR and DATASEC (5.2). */
  datasec: boolean;
  /** FUNC with global linkage (5.6). */
  funcLinkage: boolean;
  /** FLOAT (5.13). */
  float: boolean;
  /** DECL_TAG (5.16). */
  declTag: boolean;
  /** TYPE_TAG (5.17). */
  typeTag: boolean;
  /** ENUM64 and signed enums via kind_flag (6.0). */
  enum64: boolean;
}

export const ALL_BTF_FEATURES: BtfFeatures = {
  func: true, datasec: true, funcLinkage: true, float: true, declTag: true, typeTag: true, enum64: true,
};

/** Features by kernel release, from the versions that introduced them. */
export function btfFeaturesForKernel(release: string): BtfFeatures {
  const v = kernelVersionCode(release);
  const at = (a: number, b: number) => v >= (a << 16) + (b << 8);
  return {
    func: at(5, 0),
    datasec: at(5, 2),
    funcLinkage: at(5, 6),
    float: at(5, 13),
    declTag: at(5, 16),
    typeTag: at(5, 17),
    enum64: at(6, 0),
  };
}

/** Identifier the old kernel accepts for a struct/member/int name. */
const identifier = (name: string): string => name.replace(/[^A-Za-z0-9_]/g, '_');

const byteInt = (id: number, name: string): BtfType => ({
  kind: 'int', id, name: identifier(name) || 'int_', size: 1, signed: false, char: false, bool: false, bitOffset: 0, bits: 8,
});

/** Returns `btf` itself when nothing needs changing, else a sanitised copy with the same ids. */
export function sanitizeBtf(btf: Btf, features: BtfFeatures): Btf {
  const out = new Map<number, BtfType>();
  for (const t of btf.types()) {
    switch (t.kind) {
      case 'var':
        if (!features.datasec) out.set(t.id, byteInt(t.id, t.name));
        break;
      case 'datasec':
        if (!features.datasec) {
          out.set(t.id, {
            kind: 'struct', id: t.id, name: identifier(t.name), size: t.size,
            members: t.vars.map((v) => {
              const vt = btf.type(v.type);
              return {name: identifier(vt.name), type: vt.kind === 'var' ? vt.type : v.type, bitOffset: v.offset * 8, bitfieldSize: 0};
            }),
          });
        }
        break;
      case 'float':
        if (!features.float) out.set(t.id, {kind: 'struct', id: t.id, name: t.name, size: t.size, members: []});
        break;
      case 'decl_tag':
        if (!features.declTag) out.set(t.id, byteInt(t.id, t.name));
        break;
      case 'type_tag':
        if (!features.typeTag) out.set(t.id, {kind: 'const', id: t.id, name: '', type: t.type});
        break;
      case 'enum64':
        if (!features.enum64) {
          const fits = t.values.every((e) => e.value >= -(1n << 31n) && e.value < (1n << 32n));
          out.set(t.id, fits
            ? {kind: 'enum', id: t.id, name: t.name, size: t.size, signed: false, values: t.values.map((e) => ({name: e.name, value: Number(BigInt.asUintN(32, e.value))}))}
            : {kind: 'union', id: t.id, name: t.name, size: t.size, members: []});
        }
        break;
      case 'enum':
        if (!features.enum64 && t.signed) out.set(t.id, {...t, signed: false, values: t.values.map((e) => ({name: e.name, value: e.value >>> 0}))});
        break;
      case 'func':
        if (!features.func) out.set(t.id, {kind: 'typedef', id: t.id, name: t.name, type: t.type});
        else if (!features.funcLinkage && t.linkage !== BtfLinkage.static) out.set(t.id, {...t, linkage: BtfLinkage.static});
        break;
      case 'func_proto':
        if (!features.func) out.set(t.id, {kind: 'enum', id: t.id, name: '', size: 4, signed: false, values: []});
        break;
      default:
        break;
    }
  }
  return out.size ? btf.withTypes(out) : btf;
}
