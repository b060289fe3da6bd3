package cli

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// readPassword turns the terminal's echo off, then prompts, then reads one
// line: a password typed as soon as the prompt shows is never echoed
// (term.ReadPassword turns echo off only after the caller has prompted).
func readPassword(tty *os.File, out io.Writer, prompt string) ([]byte, error) {
	fd := int(tty.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ISIG
	quiet.Iflag |= unix.ICRNL
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return nil, err
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, old)
	fmt.Fprint(out, prompt)
	var line []byte
	b := make([]byte, 256)
	for {
		n, err := tty.Read(b)
		for _, c := range b[:n] {
			if c == '\n' {
				return line, nil
			}
			line = append(line, c)
		}
		if err != nil {
			if err == io.EOF && len(line) > 0 {
				return line, nil
			}
			return nil, err
		}
		if n == 0 {
			return nil, io.EOF
		}
	}
}
