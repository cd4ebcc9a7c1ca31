// Package route puts sendmail's maps to work around the queue: the access
// map's verdicts on a whole message (DISCARD, QUARANTINE, sender
// refusals), outbound sender rewriting (genericstable, masquerading) at
// acceptance, alias and .forward expansion of local recipients at
// delivery time (Courier), and the routing decision after it
// (Dispatcher: local domains, mailertable, MX or smarthost, with the
// STARTTLS policy of each next hop).
package route
