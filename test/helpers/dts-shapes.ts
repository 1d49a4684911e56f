/**
 * A published client's `.d.ts` as a runtime check: the TypeScript compiler reads the declaration
 * file and each JSON answer is checked against the type a method declares it returns — every
 * required property present with its type, every optional one absent or of its type (never null
 * unless the type says so). Read from the file itself, so a new SDK field is checked without
 * anyone copying it into a test.
 */
import { readFileSync } from "node:fs";
import ts from "typescript";

export class DeclaredTypes {
  private readonly source: ts.SourceFile;
  private readonly interfaces = new Map<string, ts.InterfaceDeclaration>();
  private readonly classes = new Map<string, ts.ClassDeclaration>();
  /** Interface properties an answer has carried (`Iface.prop`), to prove a suite reached them all. */
  readonly seen = new Set<string>();

  constructor(file: string) {
    this.source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true);
    for (const s of this.source.statements) {
      if (ts.isInterfaceDeclaration(s)) this.interfaces.set(s.name.text, s);
      if (ts.isClassDeclaration(s) && s.name) this.classes.set(s.name.text, s);
    }
  }

  /** Every property of every interface reachable from the classes' public method return types. */
  reachableProperties(): Set<string> {
    const out = new Set<string>();
    const visit = (node: ts.TypeNode | undefined, done: Set<string>): void => {
      if (!node) return;
      if (ts.isTypeReferenceNode(node)) {
        const name = node.typeName.getText(this.source);
        node.typeArguments?.forEach((a) => visit(a, done));
        const iface = this.interfaces.get(name);
        if (!iface || done.has(name)) return;
        done.add(name);
        for (const m of this.members(iface)) {
          out.add(`${name}.${m.name}`);
          visit(m.type, done);
        }
        return;
      }
      ts.forEachChild(node, (c) => visit(c as ts.TypeNode, done));
    };
    for (const cls of this.classes.values()) {
      for (const m of cls.members) {
        if (ts.isMethodDeclaration(m) && !hasModifier(m, ts.SyntaxKind.PrivateKeyword)) visit(m.type, new Set());
      }
    }
    return out;
  }

  /** Problems of `value` as the awaited return type of `Class.method`; empty when it conforms. */
  checkReturn(className: string, method: string, value: unknown): string[] {
    const m = this.classes.get(className)?.members.find((x): x is ts.MethodDeclaration => ts.isMethodDeclaration(x) && x.name.getText(this.source) === method);
    if (!m?.type) throw new Error(`${className}.${method} is not declared`);
    let type = m.type;
    if (ts.isTypeReferenceNode(type) && type.typeName.getText(this.source) === "Promise") type = type.typeArguments![0]!;
    const problems: string[] = [];
    this.check(type, value, `${className}.${method}()`, problems);
    return problems;
  }

  private members(iface: ts.InterfaceDeclaration): Array<{ name: string; optional: boolean; type: ts.TypeNode }> {
    const own = iface.members.filter(ts.isPropertySignature).map((p) => ({ name: p.name.getText(this.source), optional: p.questionToken !== undefined, type: p.type! }));
    const inherited = (iface.heritageClauses ?? []).flatMap((h) =>
      h.types.flatMap((t) => {
        const parent = this.interfaces.get(t.expression.getText(this.source));
        return parent ? this.members(parent) : [];
      }),
    );
    return [...inherited, ...own];
  }

  private checkObject(name: string, members: Array<{ name: string; optional: boolean; type: ts.TypeNode }>, value: unknown, at: string, problems: string[]): void {
    if (!isPlainObject(value)) {
      problems.push(`${at}: expected ${name} (an object), got ${JSON.stringify(value)}`);
      return;
    }
    for (const m of members) {
      const here = `${at}.${m.name}`;
      if (!Object.hasOwn(value, m.name)) {
        if (!m.optional) problems.push(`${here}: required by ${name} but missing`);
        continue;
      }
      this.seen.add(`${name}.${m.name}`);
      this.check(m.type, value[m.name], here, problems);
    }
  }

  private check(type: ts.TypeNode, value: unknown, at: string, problems: string[]): void {
    const fail = () => problems.push(`${at}: expected ${type.getText(this.source)}, got ${JSON.stringify(value)?.slice(0, 120)}`);
    switch (type.kind) {
      case ts.SyntaxKind.StringKeyword:
        if (typeof value !== "string") fail();
        return;
      case ts.SyntaxKind.NumberKeyword:
        if (typeof value !== "number" || !Number.isFinite(value)) fail();
        return;
      case ts.SyntaxKind.BooleanKeyword:
        if (typeof value !== "boolean") fail();
        return;
    }
    if (ts.isLiteralTypeNode(type)) {
      const lit = type.literal;
      if (lit.kind === ts.SyntaxKind.NullKeyword ? value !== null : ts.isStringLiteral(lit) ? value !== lit.text : true) fail();
      return;
    }
    if (ts.isUnionTypeNode(type)) {
      const tries = type.types.map((t) => {
        const p: string[] = [];
        this.check(t, value, at, p);
        return p;
      });
      if (!tries.some((p) => p.length === 0)) fail();
      return;
    }
    if (ts.isArrayTypeNode(type)) {
      if (!Array.isArray(value)) return void fail();
      value.forEach((v, i) => this.check(type.elementType, v, `${at}[${i}]`, problems));
      return;
    }
    if (ts.isTypeLiteralNode(type)) {
      const members = type.members.filter(ts.isPropertySignature).map((p) => ({ name: p.name.getText(this.source), optional: p.questionToken !== undefined, type: p.type! }));
      this.checkObject("(inline type)", members, value, at, problems);
      return;
    }
    if (ts.isTypeReferenceNode(type)) {
      const name = type.typeName.getText(this.source);
      if (name === "Record") {
        const [keyType, valueType] = type.typeArguments!;
        if (keyType!.kind !== ts.SyntaxKind.StringKeyword) throw new Error(`${at}: only Record<string, …> is supported`);
        if (!isPlainObject(value)) return void fail();
        for (const [k, v] of Object.entries(value)) this.check(valueType!, v, `${at}[${JSON.stringify(k)}]`, problems);
        return;
      }
      const iface = this.interfaces.get(name);
      if (!iface) throw new Error(`${at}: type ${name} is not declared in the file`);
      this.checkObject(name, this.members(iface), value, at, problems);
      return;
    }
    throw new Error(`${at}: the checker does not know the type ${type.getText(this.source)}`);
  }
}

function hasModifier(node: ts.Node, kind: ts.SyntaxKind): boolean {
  return ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === kind);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}
