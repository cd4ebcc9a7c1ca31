// Package dane decides and checks DANE authentication of SMTP servers
// (RFC 7672, with the TLSA rules of RFC 6698 and RFC 7671).
//
// Delivery uses it in two steps. Before connecting to a server, Lookup
// asks DNS, through a validating resolver (internal/dns's
// DNSSECResolver), whether the server publishes DNSSEC-signed TLSA
// records, and returns a Decision: DANE applies (TLS is mandatory and
// the certificate must match the records), only encryption is mandatory
// (the records are all unusable), DANE does not apply (the caller uses
// its other TLS policy), or, as an error, the answer is not known yet
// (the caller tries another server or defers the message). After the
// TLS handshake, Decision.VerifyConnection (or Verify) checks the
// certificates the server presented against the records.
//
// What the caller must do when a Decision says TLS is mandatory (RFC
// 7672 2.2): never send the message in plaintext to that server, not
// even when STARTTLS is missing or fails; send the TLSA base domain
// (Decision.BaseDomain) as the TLS server name (RFC 7672 8.1); skip the
// PKIX checks of crypto/tls (InsecureSkipVerify) and call
// VerifyConnection instead; on any failure try the next server or
// defer.
package dane
