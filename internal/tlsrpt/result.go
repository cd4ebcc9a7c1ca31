package tlsrpt

// Result types (RFC 8460 4.3): why a session failed. A success has none.
const (
	// Negotiation failures (RFC 8460 4.3.1).
	ResultSTARTTLSNotSupported    = "starttls-not-supported"
	ResultCertificateHostMismatch = "certificate-host-mismatch"
	ResultCertificateExpired      = "certificate-expired"
	ResultCertificateNotTrusted   = "certificate-not-trusted"
	ResultValidationFailure       = "validation-failure"

	// Policy failures of DANE (RFC 8460 4.3.2.1).
	ResultTLSAInvalid   = "tlsa-invalid"
	ResultDNSSECInvalid = "dnssec-invalid"
	ResultDANERequired  = "dane-required"

	// Policy failures of MTA-STS (RFC 8460 4.3.2.2).
	ResultSTSPolicyFetch   = "sts-policy-fetch-error"
	ResultSTSPolicyInvalid = "sts-policy-invalid"
	ResultSTSWebPKIInvalid = "sts-webpki-invalid"
)

// Policy types (RFC 8460 4.4 "policy-type").
const (
	PolicySTS           = "sts"             // an MTA-STS policy (RFC 8461)
	PolicyTLSA          = "tlsa"            // DANE TLSA records (RFC 7672)
	PolicyNoPolicyFound = "no-policy-found" // neither: opportunistic TLS
)

// knownResults are the result types a Session may carry.
var knownResults = map[string]bool{
	ResultSTARTTLSNotSupported: true, ResultCertificateHostMismatch: true, ResultCertificateExpired: true,
	ResultCertificateNotTrusted: true, ResultValidationFailure: true, ResultTLSAInvalid: true,
	ResultDNSSECInvalid: true, ResultDANERequired: true, ResultSTSPolicyFetch: true,
	ResultSTSPolicyInvalid: true, ResultSTSWebPKIInvalid: true,
}

// KnownResult reports whether r is an RFC 8460 result type.
func KnownResult(r string) bool { return knownResults[r] }
