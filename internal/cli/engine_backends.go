package cli

import (
	"github.com/berth/berth/pkg/engine"
	"github.com/berth/berth/pkg/engine/backend"
	"github.com/berth/berth/pkg/image"
	"github.com/berth/berth/pkg/network"
)

// engineBackends plugs the image store and the network manager into the engine.
func engineBackends(opts *Options, eo *engine.Options) error {
	imgs, err := image.Open(opts.Root)
	if err != nil {
		return err
	}
	nets, err := network.Open(opts.Root, opts.RunRoot, networkEvents(opts))
	if err != nil {
		return err
	}
	eo.Images = backend.Images{Store: imgs}
	eo.Network = backend.Networks{Manager: nets}
	return nil
}
