package reputation

// SpamCheck marks the block-list and reverse-DNS checks as reputation
// checks (inbound.SpamCheck): an access-map OK entry for the client or
// the recipient overrides their refusals at RCPT.
func (d *DNSBL) SpamCheck() {}

// SpamCheck implements inbound.SpamCheck.
func (r *RDNS) SpamCheck() {}
