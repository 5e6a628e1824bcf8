// A program run as a child process for the tests: its stdout and stderr captured through pipes
// (read while it runs, so a test can wait for " [x] Awaiting RPC requests"), signals, and a
// bounded wait for its exit. POSIX only; every wait has a deadline.
#pragma once

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <algorithm>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace rpc_test {

/// How a child ended: exit status, or the signal that killed it.
struct exit_info {
    bool exited = false;
    int status = -1;  ///< exit status when exited
    int signal = 0;   ///< terminating signal otherwise
    bool timed_out = false;
};

/// A running program with captured output.
class child_process {
public:
    /// Start `argv[0]` with `argv`; `env` entries are set (or, with an empty value and
    /// unset_empty, removed) on top of this process's environment.
    explicit child_process(std::vector<std::string> argv, std::map<std::string, std::string> env = {},
                           bool unset_empty = true) {
        // Everything the child needs is built before fork(): other threads may hold malloc's lock.
        std::map<std::string, std::string> vars;
        for (char** e = environ; *e; ++e) {
            const std::string kv = *e;
            const auto eq = kv.find('=');
            if (eq != std::string::npos) vars[kv.substr(0, eq)] = kv.substr(eq + 1);
        }
        for (const auto& [k, v] : env) {
            if (v.empty() && unset_empty)
                vars.erase(k);
            else
                vars[k] = v;
        }
        std::vector<std::string> env_strings;
        for (const auto& [k, v] : vars) env_strings.push_back(k + "=" + v);
        std::vector<char*> envp, args;
        for (auto& e : env_strings) envp.push_back(e.data());
        envp.push_back(nullptr);
        for (auto& a : argv) args.push_back(a.data());
        args.push_back(nullptr);

        int out[2], err[2];
        // O_CLOEXEC: children started at the same time by other tests must not inherit our pipes.
        if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) std::abort();
        pid_ = fork();
        if (pid_ < 0) std::abort();
        if (pid_ == 0) {
            dup2(out[1], 1);
            dup2(err[1], 2);
            close(out[0]);
            close(err[0]);
            close(out[1]);
            close(err[1]);
            execve(args[0], args.data(), envp.data());
            _exit(127);
        }
        close(out[1]);
        close(err[1]);
        out_fd_ = out[0];
        err_fd_ = err[0];
        fcntl(out_fd_, F_SETFL, O_NONBLOCK);
        fcntl(err_fd_, F_SETFL, O_NONBLOCK);
    }
    ~child_process() {
        if (!reaped_) {
            kill(pid_, SIGKILL);
            int st = 0;
            waitpid(pid_, &st, 0);
        }
        if (out_fd_ >= 0) close(out_fd_);
        if (err_fd_ >= 0) close(err_fd_);
    }
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    pid_t pid() const { return pid_; }
    void signal(int sig) { kill(pid_, sig); }

    /// Read output until stdout contains `text` (true) or the deadline passes / the child closes
    /// stdout (false).
    bool wait_for_stdout(const std::string& text, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (out_.find(text) == std::string::npos) {
            if (!pump(deadline)) return out_.find(text) != std::string::npos;
        }
        return true;
    }

    /// Wait for the exit (reading all output meanwhile); SIGKILL at the deadline.
    exit_info wait(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (pump(deadline)) {
        }
        exit_info info;
        for (;;) {
            int st = 0;
            const pid_t r = waitpid(pid_, &st, WNOHANG);
            if (r == pid_) {
                reaped_ = true;
                info.exited = WIFEXITED(st);
                info.status = info.exited ? WEXITSTATUS(st) : -1;
                info.signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
                return info;
            }
            if (std::chrono::steady_clock::now() > deadline) {
                info.timed_out = true;
                kill(pid_, SIGKILL);
                deadline_passed_ = true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }

    const std::string& out() const { return out_; }
    const std::string& err() const { return err_; }

private:
    // One poll round; false once both pipes are closed or the deadline has passed.
    bool pump(std::chrono::steady_clock::time_point deadline) {
        if (out_fd_ < 0 && err_fd_ < 0) return false;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
        const int n = poll(fds, 2, static_cast<int>(std::min<long>(left.count(), 100)));
        if (n < 0 && errno != EINTR) return false;
        drain(out_fd_, out_);
        drain(err_fd_, err_);
        return true;
    }
    static void drain(int& fd, std::string& into) {
        if (fd < 0) return;
        char buf[4096];
        for (;;) {
            const ssize_t r = read(fd, buf, sizeof buf);
            if (r > 0) {
                into.append(buf, static_cast<std::size_t>(r));
                continue;
            }
            if (r == 0) {
                close(fd);
                fd = -1;
            }
            return;  // EAGAIN: nothing more for now
        }
    }

    pid_t pid_ = -1;
    int out_fd_ = -1, err_fd_ = -1;
    std::string out_, err_;
    bool reaped_ = false;
    bool deadline_passed_ = false;
};

}  // namespace rpc_test
