// The Go peer (bench/peers/go): built offline against Debian's golang-github-rabbitmq-amqp091-go-dev
// (see build.sh), never from the module proxy.
module amqprpc/bench/peers/go

go 1.19

require github.com/rabbitmq/amqp091-go v1.5.0

replace github.com/rabbitmq/amqp091-go => /usr/share/gocode/src/github.com/rabbitmq/amqp091-go

replace go.uber.org/goleak => /usr/share/gocode/src/go.uber.org/goleak
