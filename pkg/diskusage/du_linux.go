package diskusage

import (
	"io/fs"
	"path/filepath"
	"syscall"
)

// dirSize returns the bytes allocated to what is under dir, each inode
// counted once and directories themselves not at all (as docker counts).
func dirSize(dir string) int64 {
	var n int64
	seen := map[uint64]bool{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			if st.Nlink > 1 {
				if seen[st.Ino] {
					return nil
				}
				seen[st.Ino] = true
			}
			n += st.Blocks * 512
		}
		return nil
	})
	return n
}
