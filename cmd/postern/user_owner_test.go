package main

import (
	"io/fs"
	"strconv"
	"syscall"
)

func statOwner(fi fs.FileInfo) (string, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", false
	}
	return strconv.Itoa(int(st.Uid)), true
}
