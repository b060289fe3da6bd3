package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/image"
)

// imgInspect is docker's image inspect document.
type imgInspect struct {
	ID            string          `json:"Id"`
	RepoTags      []string        `json:"RepoTags"`
	RepoDigests   []string        `json:"RepoDigests"`
	Parent        string          `json:"Parent"`
	Comment       string          `json:"Comment"`
	Created       string          `json:"Created"`
	DockerVersion string          `json:"DockerVersion"`
	Author        string          `json:"Author"`
	Config        v1.Config       `json:"Config"`
	Architecture  string          `json:"Architecture"`
	Variant       string          `json:"Variant,omitempty"`
	Os            string          `json:"Os"`
	Size          int64           `json:"Size"`
	GraphDriver   imgGraphDriver  `json:"GraphDriver"`
	RootFS        imgRootFS       `json:"RootFS"`
	Metadata      map[string]any  `json:"Metadata"`
	Descriptor    json.RawMessage `json:"Descriptor,omitempty"`
}

type imgGraphDriver struct {
	Name string            `json:"Name"`
	Data map[string]string `json:"Data"`
}

type imgRootFS struct {
	Type   string   `json:"Type"`
	Layers []string `json:"Layers"`
}

// NewCmdImageInspect is `berth image inspect IMAGE...`.
func NewCmdImageInspect(opts *Options) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] IMAGE [IMAGE...]",
		Short: "Display detailed information on one or more images",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openImages(opts)
			if err != nil {
				return err
			}
			var docs []imgInspect
			var errs []error
			for _, ref := range args {
				img, err := st.Resolve(cmd.Context(), ref)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				docs = append(docs, inspectImage(st, img))
			}
			out := cmd.OutOrStdout()
			if format == "" || format == "json" {
				if docs == nil {
					docs = []imgInspect{}
				}
				b, _ := json.MarshalIndent(docs, "", "    ")
				fmt.Fprintln(out, string(b))
			} else {
				tmpl, _, _, err := imgTemplate(format)
				if err != nil {
					return usageError(cmd, err)
				}
				for _, d := range docs {
					// Templates see the document as JSON does, so field names
					// are docker's (.Id, .Config.Env, ...).
					var m map[string]any
					b, _ := json.Marshal(d)
					json.Unmarshal(b, &m)
					var sb strings.Builder
					if err := tmpl.Execute(&sb, m); err != nil {
						return err
					}
					fmt.Fprintln(out, sb.String())
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format output with a Go template, or json")
	return cmd
}

func inspectImage(st *image.Store, img *image.Image) imgInspect {
	c := img.Config
	d := imgInspect{
		ID: img.ID.String(), RepoTags: familiarAll(img.RepoTags), RepoDigests: familiarAll(img.RepoDigests),
		Created: c.Created.Time.UTC().Format(time.RFC3339Nano), DockerVersion: c.DockerVersion, Author: c.Author,
		Config: c.Config, Architecture: c.Architecture, Variant: c.Variant, Os: c.OS, Size: st.UnpackedSize(img),
		GraphDriver: imgGraphDriver{Name: "overlay", Data: map[string]string{}},
		RootFS:      imgRootFS{Type: "layers"},
		Metadata:    map[string]any{"LastTagTime": img.Added.Format(time.RFC3339Nano)},
	}
	if len(c.History) > 0 {
		d.Comment = c.History[len(c.History)-1].Comment
	}
	var lowers []string
	for _, l := range img.Layers {
		d.RootFS.Layers = append(d.RootFS.Layers, l.DiffID.String())
		if dir, err := st.Snapshots().Dir(l.ChainID); err == nil {
			lowers = append([]string{dir}, lowers...)
		}
	}
	if len(lowers) > 0 {
		d.GraphDriver.Data["LowerDir"] = strings.Join(lowers, ":")
	}
	if d.RepoTags == nil {
		d.RepoTags = []string{}
	}
	if d.RepoDigests == nil {
		d.RepoDigests = []string{}
	}
	return d
}

func familiarAll(names []string) []string {
	var out []string
	for _, n := range names {
		out = append(out, image.Familiar(n))
	}
	return out
}
