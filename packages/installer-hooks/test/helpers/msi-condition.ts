/**
 * Evaluates the subset of Windows Installer condition syntax the hooks use: NOT, AND, OR,
 * parentheses, a bare property (true when set and non-empty), and =, <>, ~= (case-insensitive)
 * against a quoted string. Enough to check a condition against install scenarios.
 */
export function evaluateMsiCondition(condition: string | undefined, props: Record<string, string>): boolean {
  if (condition === undefined) throw new Error('no condition to evaluate');
  const tokens = condition.match(/"[^"]*"|~=|<>|=|\(|\)|[A-Za-z_][A-Za-z0-9_.]*/g) ?? [];
  let pos = 0;
  const peek = () => tokens[pos];
  const next = () => tokens[pos++];
  const isKeyword = (t: string | undefined, k: string) => t !== undefined && t.toUpperCase() === k;
  const orExpr = (): boolean => {
    let v = andExpr();
    while (isKeyword(peek(), 'OR')) {
      next();
      const r = andExpr();
      v = v || r;
    }
    return v;
  };
  const andExpr = (): boolean => {
    let v = notExpr();
    while (isKeyword(peek(), 'AND')) {
      next();
      const r = notExpr();
      v = v && r;
    }
    return v;
  };
  const notExpr = (): boolean => {
    if (isKeyword(peek(), 'NOT')) {
      next();
      return !notExpr();
    }
    return atom();
  };
  const atom = (): boolean => {
    const t = next();
    if (t === undefined) throw new Error(`condition ended early: ${condition}`);
    if (t === '(') {
      const v = orExpr();
      if (next() !== ')') throw new Error(`missing ) in ${condition}`);
      return v;
    }
    const value = props[t] ?? '';
    const op = peek();
    if (op === '=' || op === '<>' || op === '~=') {
      next();
      const lit = next();
      if (!lit?.startsWith('"')) throw new Error(`expected a string after ${op} in ${condition}`);
      const s = lit.slice(1, -1);
      if (op === '=') return value === s;
      if (op === '<>') return value !== s;
      return value.toLowerCase() === s.toLowerCase();
    }
    return value !== '';
  };
  const v = orExpr();
  if (pos !== tokens.length) throw new Error(`unparsed tokens in ${condition}: ${tokens.slice(pos).join(' ')}`);
  return v;
}
