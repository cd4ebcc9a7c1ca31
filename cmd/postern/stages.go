package main

// stageBuilders make the policy stages (inbound checkers) from the
// configuration, in the order they run at each SMTP stage: connection
// limits first, then reputation (DNSBL, reverse DNS), HELO checks,
// greylisting, milters, SPF/DKIM/DMARC, and DKIM signing last, after
// anything that may change the message. Each topic has its own wire_*.go
// file with its builder.
var stageBuilders = []func(d *deps) ([]any, error){
	operatorStages,  // metrics first (it counts every connection), alerts, suspension
	localStages,     // local submission: which senders a local user may use
	loginStages,     // which senders a logged-in client may use
	ratelimitStages, // connection, login, message and outbound limits
	accessStages,    // access map: From: refusals, DISCARD, QUARANTINE
	checksStages,
	milterStages, // after connection checks, before SPF/DKIM/DMARC and signing
	mailauthStages,
	routeStages, // genericstable and masquerading, before signing
	dkimSignStages,
}

// buildStages runs every builder.
func buildStages(d *deps) ([]any, error) {
	var stages []any
	for _, b := range stageBuilders {
		s, err := b(d)
		if err != nil {
			return nil, err
		}
		stages = append(stages, s...)
	}
	return stages, nil
}
