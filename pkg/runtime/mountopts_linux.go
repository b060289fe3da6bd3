package runtime

import (
	"strings"

	"golang.org/x/sys/unix"
)

type mountFlag struct {
	clear bool
	flag  int
}

var mountFlags = map[string]mountFlag{
	"async": {true, unix.MS_SYNCHRONOUS}, "atime": {true, unix.MS_NOATIME},
	"bind": {false, unix.MS_BIND}, "defaults": {false, 0},
	"dev": {true, unix.MS_NODEV}, "diratime": {true, unix.MS_NODIRATIME},
	"dirsync": {false, unix.MS_DIRSYNC}, "exec": {true, unix.MS_NOEXEC},
	"iversion": {false, unix.MS_I_VERSION}, "lazytime": {false, unix.MS_LAZYTIME},
	"loud": {true, unix.MS_SILENT}, "mand": {false, unix.MS_MANDLOCK},
	"noatime": {false, unix.MS_NOATIME}, "nodev": {false, unix.MS_NODEV},
	"nodiratime": {false, unix.MS_NODIRATIME}, "noexec": {false, unix.MS_NOEXEC},
	"noiversion": {true, unix.MS_I_VERSION}, "nolazytime": {true, unix.MS_LAZYTIME},
	"nomand": {true, unix.MS_MANDLOCK}, "norelatime": {true, unix.MS_RELATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME}, "nosuid": {false, unix.MS_NOSUID},
	"rbind": {false, unix.MS_BIND | unix.MS_REC}, "relatime": {false, unix.MS_RELATIME},
	"remount": {false, unix.MS_REMOUNT}, "ro": {false, unix.MS_RDONLY},
	"rw": {true, unix.MS_RDONLY}, "silent": {false, unix.MS_SILENT},
	"strictatime": {false, unix.MS_STRICTATIME}, "suid": {true, unix.MS_NOSUID},
	"sync":        {false, unix.MS_SYNCHRONOUS},
	"nosymfollow": {false, unix.MS_NOSYMFOLLOW}, "symfollow": {true, unix.MS_NOSYMFOLLOW},
	"acl": {false, unix.MS_POSIXACL}, "noacl": {true, unix.MS_POSIXACL},
}

var propagationFlags = map[string]int{
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
	"unbindable": unix.MS_UNBINDABLE, "runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// parseMountOptions splits OCI mount options into mount(2) flags,
// propagation changes and the filesystem data string.
func parseMountOptions(opts []string) (flags int, prop []int, data string, rec bool, err error) {
	var datas []string
	for _, o := range opts {
		if f, ok := mountFlags[o]; ok {
			if f.clear {
				flags &^= f.flag
			} else {
				flags |= f.flag
			}
			continue
		}
		if p, ok := propagationFlags[o]; ok {
			prop = append(prop, p)
			continue
		}
		switch o {
		case "tmpcopyup":
			continue // handled by mountTmpcopyup
		}
		if _, ok := recursiveAttrs[o]; ok || idmapOptions[o] {
			continue // see mountattr_linux.go
		}
		datas = append(datas, o)
	}
	return flags, prop, strings.Join(datas, ","), flags&unix.MS_REC != 0, nil
}

// propagationFlag parses linux.rootfsPropagation.
func propagationFlag(s string) (int, bool) {
	p, ok := propagationFlags[s]
	return p, ok
}
