package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth/berth/pkg/build"
	"github.com/berth/berth/pkg/build/cache"
	"github.com/berth/berth/pkg/build/imagestore"
	"github.com/berth/berth/pkg/buildcontext"
)

// buildFlags are `berth build`'s options.
type buildFlags struct {
	tags      []string
	file      string
	buildArgs []string
	target    string
	noCache   bool
	pull      bool
	network   string
	labels    []string
	quiet     bool
	progress  string
	runtime   string
}

// NewCmdBuild is `berth build`: a Dockerfile and a context to an image.
func NewCmdBuild(opts *Options) *cobra.Command {
	f := &buildFlags{}
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] PATH|-",
		Short: "Build an image from a Dockerfile",
		Long: `Build an image from a Dockerfile and a context: a directory, or a tar stream
on stdin when PATH is -. Each step that changes files becomes a layer; each
step's result is cached, so an unchanged rebuild does no work.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBuild(cmd, opts, f, args[0])
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.tags, "tag", "t", nil, "name and optionally a tag (NAME[:TAG]); repeatable")
	fl.StringVarP(&f.file, "file", "f", "", "the Dockerfile (default PATH/Dockerfile; - reads it from stdin)")
	fl.StringArrayVar(&f.buildArgs, "build-arg", nil, "set a build argument (KEY=VALUE, or KEY to take it from the environment)")
	fl.StringVar(&f.target, "target", "", "build this stage and the stages it needs, not the last one")
	fl.BoolVar(&f.noCache, "no-cache", false, "do not use the build cache")
	fl.BoolVar(&f.pull, "pull", false, "pull a newer copy of each base image first")
	fl.StringVar(&f.network, "network", "none", "network for RUN steps: none or host")
	fl.StringArrayVar(&f.labels, "label", nil, "add a label to the image (KEY=VALUE); repeatable")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only the image ID")
	fl.StringVar(&f.progress, "progress", "auto", "progress output: auto or plain")
	fl.StringVar(&f.runtime, "runtime", "", "OCI runtime for RUN steps (env BERTH_RUNTIME; default berth-runtime beside berth, else runc)")
	return cmd
}

func runBuild(cmd *cobra.Command, opts *Options, f *buildFlags, path string) error {
	if f.progress != "auto" && f.progress != "plain" && f.progress != "tty" {
		return usageError(cmd, fmt.Errorf("invalid --progress %q: want auto or plain", f.progress))
	}
	if f.network != "none" && f.network != "host" && f.network != "default" {
		return usageError(cmd, fmt.Errorf("invalid --network %q: want none or host", f.network))
	}
	if f.network == "default" {
		f.network = "none"
	}
	buildArgs := map[string]string{}
	for _, a := range f.buildArgs {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			var set bool
			if v, set = os.LookupEnv(k); !set {
				continue
			}
		}
		if k == "" {
			return usageError(cmd, fmt.Errorf("invalid --build-arg %q: want KEY=VALUE", a))
		}
		buildArgs[k] = v
	}
	labels := map[string]string{}
	for _, l := range f.labels {
		k, v, _ := strings.Cut(l, "=")
		if k == "" {
			return usageError(cmd, fmt.Errorf("invalid --label %q: want KEY=VALUE", l))
		}
		labels[k] = v
	}
	for _, t := range f.tags {
		if err := build.ValidateTag(t); err != nil {
			return usageError(cmd, err)
		}
	}
	if path == "-" && f.file == "-" {
		return usageError(cmd, fmt.Errorf("the context and the Dockerfile cannot both come from stdin"))
	}
	stdin := cmd.InOrStdin()
	if stdin == nil {
		stdin = os.Stdin
	}

	tmp := filepath.Join(opts.Root, "build", "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return err
	}
	dfName := f.file
	var dfData []byte
	if f.file == "-" {
		b, err := io.ReadAll(io.LimitReader(stdin, 4<<20+1))
		if err != nil {
			return fmt.Errorf("reading the Dockerfile from stdin: %w", err)
		}
		dfData, dfName = b, "Dockerfile"
	}
	if dfName == "" {
		dfName = "Dockerfile"
	}
	var bc *buildcontext.Context
	var err error
	if path == "-" {
		bc, err = buildcontext.FromTar(stdin, tmp, dfName)
	} else {
		// A relative -f is relative to the working directory, like docker.
		if f.file != "" && f.file != "-" && !filepath.IsAbs(f.file) {
			if abs, err := filepath.Abs(f.file); err == nil {
				if _, err := os.Stat(abs); err == nil {
					dfName = abs
				}
			}
		}
		bc, err = buildcontext.Open(path, dfName)
	}
	if err != nil {
		return err
	}
	defer bc.Close()
	if dfData == nil {
		if dfData, err = bc.ReadDockerfile(dfName); err != nil {
			return err
		}
	}

	st, err := openImages(opts)
	if err != nil {
		return err
	}
	c, err := cache.Open(filepath.Join(opts.Root, "build", "cache"))
	if err != nil {
		return err
	}
	rtName := f.runtime
	if rtName == "" {
		rtName = os.Getenv("BERTH_RUNTIME")
	}
	rtRoot := filepath.Join(opts.RunRoot, "build-runtime")
	rt := build.LazyRuntime(func() (build.Runtime, error) {
		if rtName != "" {
			return build.FindRuntime(rtName, rtRoot)
		}
		return build.DefaultRuntime(rtRoot)
	})
	store := imagestore.New(st)
	b := &build.Builder{Images: store, Snapshots: store, Runtime: rt, Cache: c, TmpDir: tmp}
	out := cmd.OutOrStdout()
	var progress bytes.Buffer
	if f.quiet {
		out = &progress // shown only if the build fails
	}
	res, err := b.Build(cmd.Context(), build.Options{
		Context: bc, Dockerfile: dfData, DockerfileName: filepath.Base(dfName),
		Tags: f.tags, BuildArgs: buildArgs, Target: f.target, NoCache: f.noCache,
		Pull: f.pull, Network: f.network, Labels: labels, Out: out,
	})
	if res != nil {
		for _, w := range res.Warnings {
			fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
		}
	}
	if err != nil {
		if f.quiet {
			cmd.ErrOrStderr().Write(progress.Bytes())
		}
		return err
	}
	if f.quiet {
		fmt.Fprintln(cmd.OutOrStdout(), res.ID)
	}
	return nil
}
