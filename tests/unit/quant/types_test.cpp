// The type table: names, block sizes and byte sizes as the GGUF format defines them, and
// the activation formats llama.cpp's CPU backend pairs with each weight format.
#include <gtest/gtest.h>

#include "core/error.h"
#include "quant/blocks.h"
#include "quant/types.h"

namespace natter {
namespace {

struct Expected {
    uint32_t number;
    const char* name;
    int64_t block_size;
    size_t type_size;
    GgmlType vec_dot_type;
};

// Sizes from the GGUF specification's type table (bytes per block of 32 or 256 values).
const Expected kExpected[] = {
    {0, "F32", 1, 4, GgmlType::F32},         {1, "F16", 1, 2, GgmlType::F16},
    {30, "BF16", 1, 2, GgmlType::BF16},      {2, "Q4_0", 32, 18, GgmlType::Q8_0},
    {3, "Q4_1", 32, 20, GgmlType::Q8_1},     {6, "Q5_0", 32, 22, GgmlType::Q8_0},
    {7, "Q5_1", 32, 24, GgmlType::Q8_1},     {8, "Q8_0", 32, 34, GgmlType::Q8_0},
    {9, "Q8_1", 32, 36, GgmlType::Q8_1},     {10, "Q2_K", 256, 84, GgmlType::Q8_K},
    {11, "Q3_K", 256, 110, GgmlType::Q8_K},  {12, "Q4_K", 256, 144, GgmlType::Q8_K},
    {13, "Q5_K", 256, 176, GgmlType::Q8_K},  {14, "Q6_K", 256, 210, GgmlType::Q8_K},
    {15, "Q8_K", 256, 292, GgmlType::Q8_K},
    {16, "IQ2_XXS", 256, 66, GgmlType::Q8_K}, {17, "IQ2_XS", 256, 74, GgmlType::Q8_K},
    {18, "IQ3_XXS", 256, 98, GgmlType::Q8_K}, {19, "IQ1_S", 256, 50, GgmlType::Q8_K},
    {20, "IQ4_NL", 32, 18, GgmlType::Q8_0},   {21, "IQ3_S", 256, 110, GgmlType::Q8_K},
    {22, "IQ2_S", 256, 82, GgmlType::Q8_K},   {23, "IQ4_XS", 256, 136, GgmlType::Q8_K},
    {29, "IQ1_M", 256, 56, GgmlType::Q8_K},   {34, "TQ1_0", 256, 54, GgmlType::Q8_K},
    {35, "TQ2_0", 256, 66, GgmlType::Q8_K},
};

TEST(QuantTypes, TableMatchesTheFormat) {
    for (const Expected& e : kExpected) {
        SCOPED_TRACE(e.name);
        const auto t = type_traits(e.number);
        ASSERT_TRUE(t.has_value());
        EXPECT_EQ(t->name, e.name);
        EXPECT_EQ(t->block_size, e.block_size);
        EXPECT_EQ(t->type_size, e.type_size);
        EXPECT_EQ(t->vec_dot_type, e.vec_dot_type);
        EXPECT_EQ(type_name(static_cast<GgmlType>(e.number)), e.name);
        EXPECT_EQ(type_from_name(e.name), static_cast<GgmlType>(e.number));
    }
}

TEST(QuantTypes, UnknownTypesAreRejected) {
    for (uint32_t number : {4u, 5u, 24u, 31u, 36u, 39u, 1000u}) {  // 39: MXFP4, not read yet
        EXPECT_FALSE(type_traits(number).has_value()) << number;
        EXPECT_THROW(traits(static_cast<GgmlType>(number)), Error) << number;
    }
    EXPECT_FALSE(type_from_name("Q4_2").has_value());
    EXPECT_FALSE(type_from_name("").has_value());
    EXPECT_FALSE(type_from_name("Q4_K_M").has_value());
}

TEST(QuantTypes, NamesAreCaseInsensitive) {
    EXPECT_EQ(type_from_name("q4_k"), GgmlType::Q4_K);
    EXPECT_EQ(type_from_name("bf16"), GgmlType::BF16);
    EXPECT_EQ(type_from_name("Q8_0"), GgmlType::Q8_0);
}

TEST(QuantTypes, RowSize) {
    EXPECT_EQ(row_size(GgmlType::F32, 576), 2304u);
    EXPECT_EQ(row_size(GgmlType::F16, 3), 6u);
    EXPECT_EQ(row_size(GgmlType::Q4_1, 576), 18u * 20u);
    EXPECT_EQ(row_size(GgmlType::Q6_K, 1536), 6u * 210u);
    EXPECT_EQ(row_size(GgmlType::Q8_0, 0), 0u);
    EXPECT_THROW(row_size(GgmlType::Q4_0, 33), Error);
    EXPECT_THROW(row_size(GgmlType::Q4_K, 128), Error);
    EXPECT_THROW(row_size(GgmlType::Q8_0, -32), Error);
}

TEST(QuantTypes, BlockStructsMatchTheTable) {
    EXPECT_EQ(sizeof(BlockQ4_0), traits(GgmlType::Q4_0).type_size);
    EXPECT_EQ(sizeof(BlockQ8_K), traits(GgmlType::Q8_K).type_size);
    EXPECT_EQ(sizeof(BlockQ3_K), traits(GgmlType::Q3_K).type_size);
    EXPECT_EQ(BlockQ5_K::elements, traits(GgmlType::Q5_K).block_size);
    EXPECT_EQ(BlockQ5_1::elements, traits(GgmlType::Q5_1).block_size);
}

}  // namespace
}  // namespace natter
