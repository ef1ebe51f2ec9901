// A tiny test framework: TEST(name) registers a case, CHECK/CHECK_EQ/CHECK_NEAR report failures.
#pragma once

#include <cmath>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace check {

struct Case {
    std::string name;
    std::function<void()> body;
};

std::vector<Case>& registry();
int& failures();

struct Register {
    Register(const char* name, std::function<void()> body) { registry().push_back({name, std::move(body)}); }
};

inline void fail(const char* file, int line, const std::string& what) {
    ++failures();
    std::cerr << file << ":" << line << ": FAILED " << what << "\n";
}

}  // namespace check

#define CHECK_CAT2(a, b) a##b
#define CHECK_CAT(a, b) CHECK_CAT2(a, b)
#define TEST(name)                                                                   \
    static void CHECK_CAT(test_, name)();                                            \
    static const check::Register CHECK_CAT(reg_, name){#name, CHECK_CAT(test_, name)}; \
    static void CHECK_CAT(test_, name)()

#define CHECK(cond)                                                  \
    do {                                                             \
        if (!(cond)) check::fail(__FILE__, __LINE__, "CHECK(" #cond ")"); \
    } while (0)

#define CHECK_EQ(a, b)                                                                     \
    do {                                                                                   \
        const auto va_ = (a);                                                              \
        const auto vb_ = (b);                                                              \
        if (!(va_ == vb_)) {                                                               \
            std::ostringstream os_;                                                        \
            os_ << #a " == " #b " (" << va_ << " vs " << vb_ << ")";                       \
            check::fail(__FILE__, __LINE__, os_.str());                                    \
        }                                                                                  \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                              \
    do {                                                                                   \
        const double va_ = (a);                                                            \
        const double vb_ = (b);                                                            \
        if (!(std::fabs(va_ - vb_) <= (tol))) {                                            \
            std::ostringstream os_;                                                        \
            os_ << #a " ~ " #b " (" << va_ << " vs " << vb_ << ", tol " << (tol) << ")";   \
            check::fail(__FILE__, __LINE__, os_.str());                                    \
        }                                                                                  \
    } while (0)
