/* lint.c: placeholder */
typedef int kdc_lint_placeholder;
