/**
 * The coordination guide served as `ablo://guide/coordination`: how agents
 * (and people) share rows with claims and stale guards, and the tools in the
 * order an agent uses them. Plain markdown, no data: every session may read it.
 */
export const COORDINATION_GUIDE = `# Working on shared rows: claims and stale guards

People and other agents edit the same rows you do. Two tools keep you from
overwriting each other: **claims** (take a row for a while) and **stale guards**
(write only if the row is still as you read it).

## Claims: one writer at a time, in line

- \`<model>_claim\` takes a row. If someone else holds it you wait in a
  first-in, first-out line: whoever asked first gets it next. With
  \`wait: false\` the call fails at once (type \`claimed\`) and names the holder and
  what they are doing.
- One claim call waits about a minute at most (the server's claim patience;
  \`waitSeconds\` shortens it). If your turn has not come by then it answers
  \`status: "waiting"\` with your \`position\` and a \`ticket\`: call \`<model>_claim\`
  with the same \`id\` and that \`ticket\` to resume the same place in line (later
  requests never overtake you). The ticket lasts until \`ticketExpiresAt\`; not
  resumed by then, your place passes to the next in line and resuming it fails
  with \`claim_ticket_not_found\` (claim again, at the back). \`<model>_release\`
  leaves the line.
- \`<model>_get\` shows who holds a row (and their \`action\`) and who waits, and
  \`ablo_presence\` lists who is on a sync group: look before you queue.
- A granted claim is a **lease** (\`leaseSeconds\`). This MCP session renews it
  while it is open, so you do not need to; if the session ends, or the lease
  runs out without renewal, the row passes to the next in line.
- While you hold the claim, other writers are refused (\`row_claimed\`) and your
  writes go through.
- \`<model>_release\` gives the row back as soon as you are done. Do not keep a
  claim while you think about something else.
- Set \`action\` ("summarizing", "triaging") so those who find the row claimed
  know why.

## Stale guards: readAt and onStale

Every row carries a \`syncId\`, its version. Pass the one you read as \`readAt\`
on \`<model>_update\`, \`<model>_delete\` or an \`ablo_commit\` operation. If someone
changed the fields you write since then, \`onStale\` decides:

- \`reject\` (default): nothing is written; the error (type \`stale_context\`) carries
  the row's current values and its new syncId. Re-plan from those and write again
  with the new \`readAt\`.
- \`overwrite\`: write anyway. Only when your value must win regardless.
- \`notify\`: do not write; the receipt reports the change, so you can tell the user.

A claim and a stale guard work together: the claim keeps other writers out
while you work; \`readAt\` catches what changed before you got the claim.

## The loop, with the tools

1. Find work: \`<model>_list\` with \`where\` (e.g. a status), small \`limit\`; follow
   \`nextCursor\` only if you need more.
2. Take one row: \`<model>_claim\` (\`wait: false\` to skip rows others hold and try
   the next; or wait your turn, resuming a \`waiting\` answer with its ticket).
3. Work from the row the claim returned (it is the row as it is now); its
   \`syncId\` is your \`readAt\`.
4. Write: \`<model>_update\` with \`readAt\` (or \`ablo_commit\` for several rows at once,
   atomically).
5. \`<model>_release\`, then the next row.

On \`stale_context\`: use the current values in the error, decide again, write
with the new syncId. On \`claimed\`: move on to another row, or wait.
\`ablo_schema\` (or the \`ablo://schema\` resource) says which fields and values a
model takes.
`;
