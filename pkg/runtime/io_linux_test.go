package runtime_test

import "io"

var io_ReadAll = io.ReadAll
