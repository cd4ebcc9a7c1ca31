// Package route puts sendmail's maps to work around the queue: the access
// map's verdicts on a whole message (DISCARD, QUARANTINE, sender
// refusals), outbound sender rewriting (genericstable, masquerading) at
// acceptance, and alias and .forward expansion of local recipients at
// delivery time.
package route
