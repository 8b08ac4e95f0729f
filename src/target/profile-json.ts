/** JSON for target profiles (bigints never occur in them; the replacer keeps it that way). */
export function bigintJson(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? '0x' + value.toString(16) : value;
}
