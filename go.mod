module rwin

go 1.24
