// Runs every registered TEST and exits non-zero on any failure.
#include "check.h"

namespace check {
std::vector<Case>& registry() {
    static std::vector<Case> cases;
    return cases;
}
int& failures() {
    static int count = 0;
    return count;
}
}  // namespace check

int main() {
    int failedCases = 0;
    for (const auto& c : check::registry()) {
        const int before = check::failures();
        c.body();
        const bool ok = check::failures() == before;
        failedCases += ok ? 0 : 1;
        std::cout << (ok ? "ok   " : "FAIL ") << c.name << "\n";
    }
    std::cout << check::registry().size() - static_cast<std::size_t>(failedCases) << " passed, "
              << failedCases << " failed\n";
    return failedCases == 0 ? 0 : 1;
}
