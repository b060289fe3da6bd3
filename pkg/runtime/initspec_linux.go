package runtime

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// initSpec is the part of the spec a container init needs, sent as its
// own small type: decoding a whole specs.Spec makes encoding/json build its
// codecs for every type the spec can hold (Windows, VM, resources...),
// which was a fifth of the init's CPU time.
type initSpec struct {
	Hostname          string                 `json:"hostname,omitempty"`
	Domainname        string                 `json:"domainname,omitempty"`
	Mounts            []specs.Mount          `json:"mounts,omitempty"`
	RootReadonly      bool                   `json:"rootReadonly,omitempty"`
	Annotations       map[string]string      `json:"annotations,omitempty"`
	Prestart          []specs.Hook           `json:"prestart,omitempty"`
	CreateRuntime     []specs.Hook           `json:"createRuntime,omitempty"`
	CreateContainer   []specs.Hook           `json:"createContainer,omitempty"`
	StartContainer    []specs.Hook           `json:"startContainer,omitempty"`
	Namespaces        []specs.LinuxNamespace `json:"namespaces,omitempty"`
	RootfsPropagation string                 `json:"rootfsPropagation,omitempty"`
	Devices           []specs.LinuxDevice    `json:"devices,omitempty"`
	MaskedPaths       []string               `json:"maskedPaths,omitempty"`
	ReadonlyPaths     []string               `json:"readonlyPaths,omitempty"`
	Sysctl            map[string]string      `json:"sysctl,omitempty"`
	Seccomp           *specs.LinuxSeccomp    `json:"seccomp,omitempty"`
}

// initSpecOf takes what the init needs from spec (which has been validated:
// Root and Linux are set).
func initSpecOf(spec *specs.Spec) *initSpec {
	w := &initSpec{
		Hostname:    spec.Hostname,
		Domainname:  spec.Domainname,
		Mounts:      spec.Mounts,
		Annotations: spec.Annotations,
	}
	if spec.Root != nil {
		w.RootReadonly = spec.Root.Readonly
	}
	if h := spec.Hooks; h != nil {
		w.Prestart, w.CreateRuntime = h.Prestart, h.CreateRuntime
		w.CreateContainer, w.StartContainer = h.CreateContainer, h.StartContainer
	}
	if l := spec.Linux; l != nil {
		w.Namespaces = l.Namespaces
		w.RootfsPropagation = l.RootfsPropagation
		w.Devices = l.Devices
		w.MaskedPaths, w.ReadonlyPaths = l.MaskedPaths, l.ReadonlyPaths
		w.Sysctl = l.Sysctl
		w.Seccomp = l.Seccomp
	}
	return w
}

// spec rebuilds the spec the init works from; process is sent on its own.
func (w *initSpec) spec(process *specs.Process) *specs.Spec {
	s := &specs.Spec{
		Process:     process,
		Hostname:    w.Hostname,
		Domainname:  w.Domainname,
		Mounts:      w.Mounts,
		Root:        &specs.Root{Readonly: w.RootReadonly},
		Annotations: w.Annotations,
		Linux: &specs.Linux{
			Namespaces:        w.Namespaces,
			RootfsPropagation: w.RootfsPropagation,
			Devices:           w.Devices,
			MaskedPaths:       w.MaskedPaths,
			ReadonlyPaths:     w.ReadonlyPaths,
			Sysctl:            w.Sysctl,
			Seccomp:           w.Seccomp,
		},
	}
	if len(w.Prestart)+len(w.CreateRuntime)+len(w.CreateContainer)+len(w.StartContainer) > 0 {
		s.Hooks = &specs.Hooks{
			Prestart: w.Prestart, CreateRuntime: w.CreateRuntime,
			CreateContainer: w.CreateContainer, StartContainer: w.StartContainer,
		}
	}
	return s
}
