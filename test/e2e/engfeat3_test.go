package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// eventLines replays the events recorded since start, one --format line each.
func (e *engineEnv) eventLines(start time.Time, format string, filters ...string) []string {
	e.t.Helper()
	args := []string{"events", "--since", strconv.FormatInt(start.Unix()-1, 10), "--until", strconv.FormatInt(time.Now().Unix()+1, 10), "--format", format}
	for _, f := range filters {
		args = append(args, "--filter", f)
	}
	out, errOut, code := e.berth(args...)
	if code != 0 {
		e.t.Fatalf("events %v: exit %d: %s", filters, code, errOut)
	}
	return strings.Split(strings.TrimSpace(out), "\n")
}

// Volume and network events as docker records them: create, mount or
// connect at start, unmount or disconnect at stop, destroy at removal.
func TestEngfeat3VolumeNetworkEvents(t *testing.T) {
	e := newEngineEnv(t)
	sfx := netSuffix()
	vol, netName, ctr := "evvol-"+sfx, "evnet-"+sfx, "evctr-"+sfx
	t.Cleanup(func() {
		e.berth("rm", "-f", ctr)
		e.berth("volume", "rm", vol)
		e.berth("network", "rm", netName)
	})
	start := time.Now()
	mustBerth(t, e, "volume", "create", vol)
	mustBerth(t, e, "volume", "create", vol) // exists: no second event
	netID := strings.TrimSpace(mustBerth(t, e, "network", "create", "--subnet", freeSubnet(t).String(), netName))
	id := strings.TrimSpace(mustBerth(t, e, "run", "-d", "--name", ctr, "--network", netName, "-v", vol+":/data:ro", "--rootfs", e.rootfs, "sleep", "300"))
	mustBerth(t, e, "stop", "-t", "1", ctr)
	mustBerth(t, e, "rm", ctr)
	mustBerth(t, e, "volume", "rm", vol)
	mustBerth(t, e, "network", "rm", netName)

	got := e.eventLines(start, "{{.Type}} {{.Action}} {{.Actor.ID}} {{.Actor.Attributes.container}}", "type=volume")
	want := []string{
		"volume create " + vol + " <no value>",
		"volume mount " + vol + " " + id,
		"volume unmount " + vol + " " + id,
		"volume destroy " + vol + " <no value>",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("volume events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	got = e.eventLines(start, "{{.Type}} {{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}} {{.Actor.Attributes.container}}", "network="+netName)
	want = []string{
		"network create " + netID + " " + netName + " <no value>",
		"network connect " + netID + " " + netName + " " + id,
		"network disconnect " + netID + " " + netName + " " + id,
		"network destroy " + netID + " " + netName + " <no value>",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("network events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The mount event carries docker's attributes; --format json works.
	lines := e.eventLines(start, "json", "volume="+vol, "event=mount")
	if len(lines) != 1 {
		t.Fatalf("volume=%s event=mount: %q", vol, lines)
	}
	var ev struct {
		Type, Action string
		Actor        struct {
			ID         string
			Attributes map[string]string
		}
		TimeNano int64 `json:"timeNano"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil {
		t.Fatalf("%q: %v", lines[0], err)
	}
	a := ev.Actor.Attributes
	if ev.Type != "volume" || a["destination"] != "/data" || a["read/write"] != "false" || a["driver"] != "local" || a["container"] != id || ev.TimeNano == 0 {
		t.Errorf("mount event: %+v", ev)
	}
	// The default line: TIME TYPE ACTION ID (k=v, ...).
	out := mustBerth(t, e, "events", "--since", strconv.FormatInt(start.Unix()-1, 10), "--until", strconv.FormatInt(time.Now().Unix()+1, 10),
		"--filter", "type=network", "--filter", "event=destroy")
	if !strings.Contains(out, " network destroy "+netID+" (name="+netName+", type=bridge)") {
		t.Errorf("events line: %q", out)
	}
	// type=volume and type=network together are alternatives; a container
	// filter selects no volume or network event.
	if got := e.eventLines(start, "{{.Type}}", "type=volume", "type=network", "container="+ctr); len(got) != 1 || got[0] != "" {
		t.Errorf("container filter over volume and network events: %q", got)
	}
	if _, errOut, code := e.berth("events", "--filter", "type=plugin", "--until", "1"); code != 125 || !strings.Contains(errOut, "invalid event type") {
		t.Errorf("type=plugin: exit %d %s", code, errOut)
	}
}

// cgroupValue reads a v1 file, or its v2 counterpart when there is no v1
// hierarchy for controller.
func cgroupValue(t *testing.T, id, controller, v1, v2 string) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", controller, "berth", id)); err == nil {
		return cgroupFile(t, id, controller, v1)
	}
	return cgroupFile(t, id, "", v2)
}

// blkioWeight reads the container's block I/O weight: CFQ's blkio.weight
// or BFQ's blkio.bfq.weight on v1, io.weight or io.bfq.weight on v2.
func blkioWeight(t *testing.T, id string) string {
	t.Helper()
	for _, p := range []string{"blkio/berth/" + id + "/blkio.weight", "blkio/berth/" + id + "/blkio.bfq.weight",
		"berth/" + id + "/io.bfq.weight", "berth/" + id + "/io.weight"} {
		if b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", p)); err == nil {
			if strings.Contains(p, "/io.") {
				return "v2:" + strings.TrimSpace(string(b)) // mapped onto io.weight's scale
			}
			return strings.TrimSpace(string(b))
		}
	}
	t.Fatalf("no block I/O weight file for %s", id)
	return ""
}

// update's CFS, cpuset-mems, memory reservation and blkio weight reach the
// running container's cgroup, show in inspect and survive a restart; run
// and create take the same flags.
func TestEngfeat3UpdateResources(t *testing.T) {
	e := newEngineEnv(t)
	sfx := netSuffix()
	ctr, created := "upd-"+sfx, "updc-"+sfx
	t.Cleanup(func() { e.berth("rm", "-f", ctr, created) })
	const mb = 1024 * 1024
	id := e.mustRunD([]string{"--name", ctr, "--cpu-period", "50000", "--cpu-quota", "25000", "--cpuset-mems", "0",
		"--memory", "256m", "--memory-reservation", "64m"}, "sleep", "300")
	period := func() string {
		if v := cgroupValue(t, id, "cpu", "cpu.cfs_period_us", "cpu.max"); strings.Contains(v, " ") {
			return strings.Fields(v)[1] + " " + strings.Fields(v)[0] // "quota period" on v2
		} else {
			return v + " " + cgroupValue(t, id, "cpu", "cpu.cfs_quota_us", "")
		}
	}
	resv := func() string { return cgroupValue(t, id, "memory", "memory.soft_limit_in_bytes", "memory.low") }
	if got := period(); got != "50000 25000" {
		t.Errorf("run: cfs period and quota %q", got)
	}
	if got := resv(); got != strconv.Itoa(64*mb) {
		t.Errorf("run: memory reservation %q", got)
	}
	if got := cgroupValue(t, id, "cpuset", "cpuset.mems", "cpuset.mems"); got != "0" {
		t.Errorf("run: cpuset.mems %q", got)
	}
	mustBerth(t, e, "update", "--cpu-period", "200000", "--cpu-quota", "100000", "--memory-reservation", "96m", "--cpuset-mems", "0", ctr)
	check := func(when string) {
		t.Helper()
		if got := period(); got != "200000 100000" {
			t.Errorf("%s: cfs period and quota %q", when, got)
		}
		if got := resv(); got != strconv.Itoa(96*mb) {
			t.Errorf("%s: memory reservation %q", when, got)
		}
		if got := e.inspect(ctr, "{{.HostConfig.CpuPeriod}} {{.HostConfig.CpuQuota}} {{json .HostConfig.MemoryReservation}} {{.HostConfig.CpusetMems}} {{json .HostConfig.Memory}}"); got != fmt.Sprintf("200000 100000 %d 0 %d", 96*mb, 256*mb) {
			t.Errorf("%s: inspect %q", when, got)
		}
	}
	check("after update")
	mustBerth(t, e, "restart", "-t", "1", ctr)
	id = e.inspect(ctr, "{{.Id}}")
	check("after restart")

	// --cpu-quota -1 lifts the quota.
	mustBerth(t, e, "update", "--cpu-quota", "-1", ctr)
	if got := period(); got != "200000 -1" && got != "200000 max" {
		t.Errorf("quota removed: %q", got)
	}

	// --blkio-weight: applied where the kernel can weigh block I/O,
	// otherwise discarded with docker's warning.
	_, errOut, code := e.berth("update", "--blkio-weight", "300", ctr)
	if code != 0 {
		t.Fatalf("update --blkio-weight: exit %d %s", code, errOut)
	}
	if strings.Contains(errOut, "Weight discarded") {
		if got := e.inspect(ctr, "{{.HostConfig.BlkioWeight}}"); got != "0" {
			t.Errorf("discarded weight recorded: %s", got)
		}
	} else {
		if got := e.inspect(ctr, "{{.HostConfig.BlkioWeight}}"); got != "300" {
			t.Errorf("blkio weight recorded %s", got)
		}
		if got := blkioWeight(t, id); got != "300" && got != "default 300" && !strings.HasPrefix(got, "v2:default ") {
			t.Errorf("blkio weight in the cgroup: %q", got)
		}
	}

	// As docker: a value the engine refuses fails the update of that
	// container (exit 1), a flag that does not parse is a usage error (125).
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"update", "--cpu-period", "999", ctr}, "CPU cfs period can not be less than 1ms"},
		{[]string{"update", "--cpu-quota", "10", ctr}, "CPU cfs quota can not be less than 1ms"},
		{[]string{"update", "--cpus", "1", ctr}, "CPU Period cannot be updated as NanoCPUs has already been set"},
		{[]string{"update", "--memory-reservation", "1g", ctr}, "Minimum memory limit can not be less than memory reservation limit"},
		{[]string{"update", "--memory-reservation", "1k", ctr}, "Minimum memory reservation allowed is 6MB"},
		{[]string{"update", "--memory-reservation", "lots", ctr}, "invalid argument \"lots\" for \"--memory-reservation\""},
		{[]string{"update", "--cpuset-mems", "4095", ctr}, "Requested memory nodes are not available"},
		{[]string{"update", "--blkio-weight", "5", ctr}, "Range of blkio weight is from 10 to 1000"},
		{[]string{"run", "--rm", "--network", "none", "--rootfs", e.rootfs, "--cpus", "1", "--cpu-quota", "50000", "true"}, "Nano CPUs and CPU Quota cannot both be set"},
		{[]string{"create", "--network", "none", "--rootfs", e.rootfs, "--cpu-period", "2000000", "true"}, "CPU cfs period can not be less than 1ms"},
	} {
		_, errOut, code := e.berth(tc.args...)
		if tc.args[0] == "update" && strings.Contains(tc.want, "blkio") && strings.Contains(errOut, "Weight discarded") {
			continue // the host cannot weigh block I/O: docker discards before checking
		}
		wantCode := 125
		if tc.args[0] == "update" && !strings.Contains(tc.want, "invalid argument") {
			wantCode = 1
		}
		if code != wantCode || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d %q, want %d and %q", tc.args, code, errOut, wantCode, tc.want)
		}
	}
	if got := e.inspect(ctr, "{{.HostConfig.CpuPeriod}} {{json .HostConfig.MemoryReservation}}"); got != fmt.Sprintf("200000 %d", 96*mb) {
		t.Errorf("refused updates changed the record: %q", got)
	}
	if out, _, _ := e.berth("ps", "-aq"); len(strings.Fields(out)) != 1 {
		t.Errorf("refused runs left containers: %q", out)
	}

	// create records the flags; start applies them.
	mustBerth(t, e, "create", "--name", created, "--network", "none", "--rootfs", e.rootfs, "--cpu-quota", "30000", "sleep", "300")
	if got := e.inspect(created, "{{.HostConfig.CpuQuota}} {{.HostConfig.CpuPeriod}}"); got != "30000 0" {
		t.Errorf("create: inspect %q", got)
	}
	mustBerth(t, e, "start", created)
	cid := e.inspect(created, "{{.Id}}")
	v := cgroupValue(t, cid, "cpu", "cpu.cfs_quota_us", "cpu.max")
	if v != "30000" && v != "30000 100000" {
		t.Errorf("create + start: quota %q", v)
	}
}

// resolved is the address a name resolves to inside a container (through
// its /etc/hosts, as every libc lookup there).
func (e *engineEnv) resolved(ctr, name string) string {
	e.t.Helper()
	out, _, _ := e.berth("exec", ctr, "ping", "-c", "1", "-W", "1", name)
	// PING name (ADDR): 56 data bytes
	if _, rest, ok := strings.Cut(out, "("); ok {
		addr, _, _ := strings.Cut(rest, ")")
		return addr
	}
	return ""
}

// network connect --ip --alias, run --network-alias and --mac-address on
// user networks, and legacy --link on the default bridge.
func TestEngfeat3NetworkConnectMacLink(t *testing.T) {
	e := newEngineEnv(t)
	sfx := netSuffix()
	net1, net2 := "n1-"+sfx, "n2-"+sfx
	a, b, c, d, db := "a-"+sfx, "b-"+sfx, "c-"+sfx, "d-"+sfx, "db-"+sfx
	t.Cleanup(func() {
		e.berth("rm", "-f", a, b, c, d, db)
		e.berth("network", "rm", net1, net2)
	})
	s1 := freeSubnet(t)
	mustBerth(t, e, "network", "create", "--subnet", s1.String(), net1)
	s2 := freeSubnet(t)
	mustBerth(t, e, "network", "create", "--subnet", s2.String(), net2)
	base2 := strings.TrimSuffix(s2.Addr().String(), ".0")
	fixed := base2 + ".50"
	mac := "02:" + sfx[0:2] + ":" + sfx[2:4] + ":" + sfx[4:6] + ":" + sfx[6:8] + ":42"
	runD := func(args ...string) string {
		t.Helper()
		return strings.TrimSpace(mustBerth(t, e, append(append([]string{"run", "-d"}, args[:len(args)-1]...), "--rootfs", e.rootfs, "sleep", args[len(args)-1])...))
	}
	runD("--name", a, "--network", net1, "--network-alias", "web", "--mac-address", strings.ToUpper(mac), "300")
	runD("--name", b, "--network", net1, "300")
	aIP1 := e.inspect(a, "{{(index .NetworkSettings.Networks \""+net1+"\").IPAddress}}")
	if got := e.resolved(b, "web"); got != aIP1 {
		t.Errorf("alias web from %s: %q, want %s", b, got, aIP1)
	}
	checkMAC := func(when string) {
		t.Helper()
		if out, _, _ := e.berth("exec", a, "cat", "/sys/class/net/eth0/address"); strings.TrimSpace(out) != mac {
			t.Errorf("%s: eth0 MAC %q, want %s", when, out, mac)
		}
		if got := e.inspect(a, "{{.Config.MacAddress}} {{(index .NetworkSettings.Networks \""+net1+"\").MacAddress}}"); got != mac+" "+mac {
			t.Errorf("%s: inspect MAC %q", when, got)
		}
	}
	checkMAC("run")

	// connect --ip --alias: the address is the container's on eth1, and
	// the alias resolves from the network's other members.
	mustBerth(t, e, "network", "connect", "--ip", fixed, "--alias", "api", "--alias", "api2", net2, a)
	runD("--name", c, "--network", net2, "300")
	if out, _, _ := e.berth("exec", a, "ip", "-4", "-o", "addr", "show", "eth1"); !strings.Contains(out, fixed+"/24") {
		t.Errorf("eth1 after connect --ip: %q", out)
	}
	for _, name := range []string{"api", "api2", a} {
		if got := e.resolved(c, name); got != fixed {
			t.Errorf("%s from %s: %q, want %s", name, c, got, fixed)
		}
	}
	if got := e.resolved(c, "web"); got != "" {
		t.Errorf("--network-alias of %s resolves on %s: %q", net1, net2, got)
	}
	if got := e.inspect(a, "{{(index .NetworkSettings.Networks \""+net2+"\").IPAMConfig.IPv4Address}} {{json (index .NetworkSettings.Networks \""+net2+"\").Aliases}}"); got != fixed+` ["api","api2"]` {
		t.Errorf("inspect after connect: %q", got)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"network", "connect", "--ip", fixed, net2, b}, "already in use"},
		{[]string{"network", "connect", "--ip", "192.0.2.9", net2, b}, "not usable"},
	} {
		if _, errOut, code := e.berth(tc.args...); code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d %q, want 1 and %q", tc.args, code, errOut, tc.want)
		}
	}
	if _, errOut, code := e.berth("network", "connect", "--ip", "nope", net2, b); code != 125 || !strings.Contains(errOut, "invalid argument \"nope\" for \"--ip\" flag") {
		t.Errorf("connect --ip nope: exit %d %q", code, errOut)
	}
	if got := e.inspect(b, "{{len .NetworkSettings.Networks}}"); got != "1" {
		t.Errorf("refused connects left %s networks on %s", got, b)
	}

	// A restart keeps the MAC, the fixed address and the aliases.
	mustBerth(t, e, "restart", "-t", "1", a)
	checkMAC("restart")
	if got := e.resolved(c, "api"); got != fixed {
		t.Errorf("api after restart: %q, want %s", got, fixed)
	}
	// The MAC is taken on net1 while a runs; the address is free after rm.
	if _, errOut, code := e.berth("run", "--rm", "--network", net1, "--mac-address", mac, "--rootfs", e.rootfs, "true"); code != 125 || !strings.Contains(errOut, "already in use") {
		t.Errorf("duplicate MAC: exit %d %q", code, errOut)
	}
	mustBerth(t, e, "rm", "-f", a)
	runD("--name", d, "--network", net2, "--ip", fixed, "300")

	// --link on the default bridge: the linked container's address under
	// its alias, its host name and its name.
	dbID := runD("--name", db, "300")
	dbIP := e.inspect(db, "{{.NetworkSettings.Networks.bridge.IPAddress}}")
	out, errOut, code := e.berth("run", "--rm", "--link", db+":database", "--rootfs", e.rootfs, "cat", "/etc/hosts")
	if code != 0 || !strings.Contains(out, dbIP+"\tdatabase "+dbID[:12]+" "+db+"\n") {
		t.Errorf("--link %s:database: exit %d %s\n%s", db, code, errOut, out)
	}
	out, errOut, code = e.berth("run", "--rm", "--link", db, "--rootfs", e.rootfs, "ping", "-c", "1", "-W", "1", db)
	if code != 0 || !strings.Contains(out, "("+dbIP+")") {
		t.Errorf("--link %s then ping: exit %d %s\n%s", db, code, errOut, out)
	}
	created := strings.TrimSpace(mustBerth(t, e, "create", "--link", db+":x", "--rootfs", e.rootfs, "true"))
	name := e.inspect(created, "{{.Name}}")
	if got := e.inspect(created, "{{json .HostConfig.Links}}"); got != `["/`+db+`:/`+strings.TrimPrefix(name, "/")+`/x"]` {
		t.Errorf("HostConfig.Links %s", got)
	}
	mustBerth(t, e, "rm", created)
	before, _, _ := e.berth("ps", "-aq")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--link", "nosuch-" + sfx}, "could not get container for nosuch-" + sfx},
		{[]string{"--link", db, "--network", "host"}, "host type networking can't be used with links"},
		{[]string{"--link", db, "--network", net1}, "Cannot link to /" + db + ", as it does not belong to network " + net1},
		{[]string{"--link", db + ":bad alias"}, "invalid link"},
		{[]string{"--mac-address", "01:00:5e:00:00:01"}, "is not a valid mac address"},
		{[]string{"--mac-address", "nope"}, "nope is not a valid mac address"},
		{[]string{"--mac-address", mac, "--network", "none"}, "conflicting options: mac-address and the network mode"},
	} {
		args := append(append([]string{"run", "--rm"}, tc.args...), "--rootfs", e.rootfs, "true")
		if _, errOut, code := e.berth(args...); code != 125 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d %q, want 125 and %q", tc.args, code, errOut, tc.want)
		}
	}
	// The default network exists now: no aliases or fixed addresses on it.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"network", "connect", "--alias", "x", "bridge", b}, "network-scoped alias is supported only for containers in user defined networks"},
		{[]string{"network", "connect", "--ip", "172.17.0.99", "bridge", b}, "user specified IP address is supported on user defined networks only"},
	} {
		if _, errOut, code := e.berth(tc.args...); code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d %q, want 1 and %q", tc.args, code, errOut, tc.want)
		}
	}
	mustBerth(t, e, "stop", "-t", "1", db)
	if _, errOut, code := e.berth("run", "--rm", "--link", db, "--rootfs", e.rootfs, "true"); code != 125 || !strings.Contains(errOut, "Cannot link to a non running container: /"+db) {
		t.Errorf("link to a stopped container: exit %d %q", code, errOut)
	}
	if after, _, _ := e.berth("ps", "-aq"); after != before {
		t.Errorf("refused runs left containers:\n%s\nbefore:\n%s", after, before)
	}
}

// A dual-stack network (network create --ipv6): containers get IPv6
// addresses, resolve each other's, take --ip6, and free it on rm.
func TestEngfeat3IPv6Network(t *testing.T) {
	e := newEngineEnv(t)
	sfx := netSuffix()
	netName, v4only, x, y, z := "v6-"+sfx, "v4-"+sfx, "x-"+sfx, "y-"+sfx, "z-"+sfx
	t.Cleanup(func() {
		e.berth("rm", "-f", x, y, z)
		e.berth("network", "rm", netName, v4only)
	})
	sub6 := netip.MustParseAddr("fd42:" + sfx[:4] + ":" + sfx[4:] + "::").String() // canonical: no leading zeros
	mustBerth(t, e, "network", "create", "--ipv6", "--subnet", freeSubnet(t).String(), "--subnet", sub6+"/64", netName)
	mustBerth(t, e, "network", "create", "--subnet", freeSubnet(t).String(), v4only)
	if got := strings.TrimSpace(mustBerth(t, e, "network", "inspect", "-f", "{{.EnableIPv6}} {{(index .IPAM.Config 1).Subnet}} {{(index .IPAM.Config 1).Gateway}}", netName)); got != "true "+sub6+"/64 "+sub6+"1" {
		t.Errorf("network inspect: %q", got)
	}
	runD := func(args ...string) {
		t.Helper()
		mustBerth(t, e, append(append([]string{"run", "-d"}, args...), "--rootfs", e.rootfs, "sleep", "300")...)
	}
	runD("--name", x, "--network", netName)
	runD("--name", y, "--network", netName, "--ip6", sub6+"99")
	if got := e.inspect(y, "{{(index .NetworkSettings.Networks \""+netName+"\").GlobalIPv6Address}}/{{(index .NetworkSettings.Networks \""+netName+"\").GlobalIPv6PrefixLen}} {{(index .NetworkSettings.Networks \""+netName+"\").IPv6Gateway}} {{(index .NetworkSettings.Networks \""+netName+"\").IPAMConfig.IPv6Address}}"); got != sub6+"99/64 "+sub6+"1 "+sub6+"99" {
		t.Errorf("inspect of --ip6: %q", got)
	}
	if out, _, _ := e.berth("exec", y, "ip", "-6", "-o", "addr", "show", "eth0"); !strings.Contains(out, sub6+"99/64") {
		t.Errorf("eth0 of %s: %q", y, out)
	}
	xIP6 := e.inspect(x, "{{(index .NetworkSettings.Networks \""+netName+"\").GlobalIPv6Address}}")
	if xIP6 != sub6+"2" {
		t.Errorf("%s got %q, want %s2", x, xIP6, sub6)
	}
	// Over IPv6, by address and by name (the hosts file lists both families).
	if out, errOut, code := e.berth("exec", x, "ping", "-6", "-c", "1", "-W", "2", y); code != 0 || !strings.Contains(out, sub6+"99") {
		t.Errorf("ping -6 %s: exit %d %s %s", y, code, out, errOut)
	}
	if out, errOut, code := e.berth("exec", y, "ping", "-c", "1", "-W", "2", sub6+"1"); code != 0 {
		t.Errorf("ping the IPv6 gateway: exit %d %s %s", code, out, errOut)
	}
	for _, tc := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"run", "--rm", "--network", netName, "--ip6", sub6 + "99", "--rootfs", e.rootfs, "true"}, "already in use", 125},
		{[]string{"run", "--rm", "--network", netName, "--ip6", "fd99::5", "--rootfs", e.rootfs, "true"}, "not usable", 125},
		{[]string{"run", "--rm", "--network", v4only, "--ip6", sub6 + "7", "--rootfs", e.rootfs, "true"}, "has no IPv6", 125},
		{[]string{"run", "--rm", "--network", netName, "--ip6", "10.0.0.1", "--rootfs", e.rootfs, "true"}, "invalid IPv6 address", 125},
		{[]string{"network", "create", "--ipv6", "--gateway", "fd77::1", "v6bad-" + sfx}, "an IPv6 --gateway needs an IPv6 --subnet", 1},
		{[]string{"network", "create", "--subnet", "fd77::/64", "v6bad-" + sfx}, "needs --ipv6", 1},
	} {
		_, errOut, code := e.berth(tc.args...)
		if code == 0 || (tc.code != 0 && code != tc.code) || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d %q, want %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
	// Without an IPv6 subnet, a random unique local /64 is picked.
	auto := "v6auto-" + sfx
	mustBerth(t, e, "network", "create", "--ipv6", auto)
	got := strings.Fields(mustBerth(t, e, "network", "inspect", "-f", "{{.EnableIPv6}} {{(index .IPAM.Config 1).Subnet}}", auto))
	if len(got) != 2 || got[0] != "true" || !strings.HasPrefix(got[1], "fd") || !strings.HasSuffix(got[1], "::/64") {
		t.Errorf("network create --ipv6 without a subnet: %q", got)
	}
	mustBerth(t, e, "network", "rm", auto)
	// connect --ip6 joins a container of the IPv4-only network.
	runD("--name", z, "--network", v4only)
	if _, errOut, code := e.berth("network", "connect", "--ip6", xIP6, netName, z); code != 1 || !strings.Contains(errOut, "already in use") {
		t.Errorf("connect --ip6 of a taken address: exit %d %q", code, errOut)
	}
	mustBerth(t, e, "network", "connect", "--ip6", sub6+"50", netName, z)
	if got := e.resolved(x, z); got != "" && !strings.Contains(got, ".") && got != sub6+"50" {
		t.Errorf("%s from %s: %q", z, x, got)
	}
	if out, errOut, code := e.berth("exec", x, "ping", "-6", "-c", "1", "-W", "2", sub6+"50"); code != 0 {
		t.Errorf("ping -6 the connected %s: exit %d %s %s", z, code, out, errOut)
	}
	// A published port answers on the host's IPv6 addresses too.
	if hostIP6 := globalIPv6(); hostIP6 != "" {
		port := freePort(t)
		w := "w-" + sfx
		t.Cleanup(func() { e.berth("rm", "-f", w) })
		mustBerth(t, e, "run", "-d", "--name", w, "--network", netName, "-p", fmt.Sprintf("%d:80", port), "--rootfs", e.rootfs,
			"sh", "-c", "mkdir -p /www && echo hello-v6 > /www/index.html && exec httpd -f -p 80 -h /www")
		url := fmt.Sprintf("http://[%s]:%d/", hostIP6, port)
		eventually(t, 15*time.Second, "the published port over IPv6 at "+url, func() bool {
			resp, err := http.Get(url)
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return strings.Contains(string(b), "hello-v6")
		})
	} else {
		t.Log("the host has no global IPv6 address: published ports over IPv6 not checked")
	}
	// rm frees the fixed address.
	mustBerth(t, e, "rm", "-f", y)
	mustBerth(t, e, "run", "--rm", "--network", netName, "--ip6", sub6+"99", "--rootfs", e.rootfs, "true")
}

// globalIPv6 is one of the host's global (or unique local) IPv6 addresses, or "".
func globalIPv6() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() == nil && n.IP.IsGlobalUnicast() {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && !strings.HasPrefix(ip.String(), "fd42:") {
				return ip.String()
			}
		}
	}
	return ""
}
