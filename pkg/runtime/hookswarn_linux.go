package runtime

import (
	"encoding/json"
	"fmt"
	"log/slog"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runHooksWarn runs every hook of a kind whose failure the runtime spec
// turns into a warning (poststart, poststop): "the runtime MUST log a
// warning, but the remaining hooks and lifecycle continue as if the hook
// had succeeded". Each failing hook is logged and the next one still runs.
func runHooksWarn(kind, id string, hooks []specs.Hook, st *specs.State) {
	if len(hooks) == 0 {
		return
	}
	state, err := json.Marshal(st)
	if err != nil {
		slog.Warn(kind+" hooks not run", "id", id, "err", err)
		return
	}
	for i, h := range hooks {
		if err := runHook(h, state); err != nil {
			slog.Warn(kind+" hook failed", "id", id, "hook", fmt.Sprintf("hooks.%s[%d] (%s)", kind, i, h.Path), "err", err)
		}
	}
}
