package users

// Check parses data as a users file named path, as a reload would,
// without putting it in use.
func Check(path string, data []byte) error {
	_, err := parse(path, data)
	return err
}
