package smtpd

import "syscall"

// syscallEMFILE is "too many open files": accept again after a pause.
var syscallEMFILE = syscall.EMFILE
