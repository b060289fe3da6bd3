package cgroups

import (
	"fmt"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func (m *manager) setDevices(r *specs.LinuxResources) error {
	if len(r.Devices) == 0 {
		return nil
	}
	dir, v2, err := m.need("devices", "devices")
	if err != nil {
		return err
	}
	if v2 {
		if err := attachDeviceFilter(dir, r.Devices); err != nil {
			return fmt.Errorf("%sdevices: %w", res, err)
		}
		return nil
	}
	// v1 applies the rules in order, as the spec does: usually a "deny
	// all" first, then the allowed devices.
	for i, d := range r.Devices {
		file := "devices.deny"
		if d.Allow {
			file = "devices.allow"
		}
		if err := setFile(fmt.Sprintf("%sdevices[%d]", res, i), dir, file, v1DeviceRule(d)); err != nil {
			return err
		}
	}
	return nil
}

// v1DeviceRule spells a rule for devices.allow/deny: "c 1:3 rwm", or "a"
// for every device.
func v1DeviceRule(d specs.LinuxDeviceCgroup) string {
	t := d.Type
	if t == "" || t == "a" {
		if isWild(d.Major) && isWild(d.Minor) && (d.Access == "" || d.Access == "rwm") {
			return "a"
		}
		t = "a"
	}
	access := d.Access
	if access == "" {
		access = "rwm"
	}
	return fmt.Sprintf("%s %s:%s %s", t, devNum(d.Major), devNum(d.Minor), access)
}

func isWild(p *int64) bool { return p == nil || *p == -1 }

func devNum(p *int64) string {
	if isWild(p) {
		return "*"
	}
	return strconv.FormatInt(*p, 10)
}
