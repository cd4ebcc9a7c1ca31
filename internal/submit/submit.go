// Package submit is local submission: the message preparation that
// `postern sendmail` does before it hands a message to the running server
// (reading sendmail's input, taking recipients from the header with -t,
// removing Bcc, adding a missing From, Date and Message-ID, as Postfix's
// cleanup does for local mail), and the server-side rule on which
// envelope senders a local user may use.
package submit
