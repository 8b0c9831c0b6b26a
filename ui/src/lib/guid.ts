const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A GUID shortened to its first and last groups; domains and other values are shown as they are. */
export function shortId(value: string): string {
  if (!GUID.test(value)) return value;
  return `${value.slice(0, 8)}…${value.slice(-4)}`;
}
