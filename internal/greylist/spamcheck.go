package greylist

// SpamCheck marks greylisting as a reputation check (inbound.SpamCheck):
// an access-map OK entry for the client or the recipient overrides it.
func (g *Greylist) SpamCheck() {}
