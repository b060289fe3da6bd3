package build

import (
	"os/exec"
	"time"
)

func timeNow() time.Time { return time.Now() }

func execOut(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
