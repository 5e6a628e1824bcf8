// Without libFuzzer: run every file of the given folders (or the given files) through the
// target once, so seeds and crash reproducers stay regression tests in ordinary builds.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

int run_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "cannot read %s\n", p.string().c_str());
        return 1;
    }
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // A copy of exactly the input's size, so ASan (if on) sees reads past the end.
    std::vector<std::uint8_t> data(bytes.begin(), bytes.end());
    LLVMFuzzerTestOneInput(data.empty() ? nullptr : data.data(), data.size());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t files = 0;
    int failures = 0;
    for (int i = 1; i < argc; ++i) {
        const std::filesystem::path p(argv[i]);
        std::error_code ec;
        if (std::filesystem::is_directory(p, ec)) {
            for (const auto& e : std::filesystem::directory_iterator(p)) {
                if (!e.is_regular_file() || e.path().filename().string().starts_with(".")) continue;
                failures += run_file(e.path());
                ++files;
            }
        } else if (std::filesystem::is_regular_file(p, ec)) {
            failures += run_file(p);
            ++files;
        }  // a missing folder is an empty one: not every target has regressions
    }
    std::printf("replayed %zu input(s)\n", files);
    return failures == 0 ? 0 : 1;
}
