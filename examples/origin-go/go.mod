module gatehouse.example/origin-go

go 1.19
