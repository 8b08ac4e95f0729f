/**
 * HubError: a hub problem the user must fix (bad URL, unreachable or refusing hub, a campaign
 * that exists with other options, a malformed hub message): one line on stderr, exit 2.
 */
export class HubError extends Error {
  override readonly name: string = 'HubError';
}
