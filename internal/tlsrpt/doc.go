// Package tlsrpt is SMTP TLS Reporting (RFC 8460) for the mail postern
// sends: the _smtp._tls TXT record (ParseRecord, the one parser of that
// format), the Store that counts each day's TLS successes and failures
// per recipient policy domain (kept under data_dir/tlsrpt/), the report
// of RFC 8460 4.4 built from a day's counts, and the Reporter that sends
// each complete day's report once to every rua of the domain's record:
// by mail (RFC 8460 5.3, through the caller's spool) or by HTTPS POST
// (RFC 8460 5.4). Callers pass the resolver, the HTTP client and the
// record of what was sent.
package tlsrpt
