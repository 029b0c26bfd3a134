/*
 * Minimal Cortex-M4 startup for the MPS2 AN386 board (and QEMU's
 * mps2-an386): vector table, .data/.bss initialisation, FPU enable, main().
 * Compiled as GNU C (section attributes); the generated model is strict C99.
 */
#include <stdint.h>

extern uint32_t _sidata[]; /* .data image in flash */
extern uint32_t _sdata[];
extern uint32_t _edata[];
extern uint32_t _sbss[];
extern uint32_t _ebss[];
extern uint32_t _estack[];

int main(void);
void semihost_exit(int status);
void Reset_Handler(void);
void Default_Handler(void);

void Reset_Handler(void)
{
    uint32_t *src = _sidata;
    uint32_t *dst = _sdata;
    while (dst < _edata) {
        *dst++ = *src++;
    }
    for (dst = _sbss; dst < _ebss; ++dst) {
        *dst = 0;
    }
#if defined(__ARM_FP)
    /* CPACR: full access to coprocessors 10 and 11 (the FPU). */
    *(volatile uint32_t *)0xE000ED88u |= (0xFu << 20);
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    semihost_exit(main());
    for (;;) {
    }
}

void Default_Handler(void)
{
    semihost_exit(99);
    for (;;) {
    }
}

/* The first 16 entries: initial stack pointer, then the system exceptions. */
__attribute__((section(".isr_vector"), used)) const uintptr_t vector_table[16] = {
    (uintptr_t)_estack,
    (uintptr_t)Reset_Handler,
    (uintptr_t)Default_Handler, /* NMI */
    (uintptr_t)Default_Handler, /* HardFault */
    (uintptr_t)Default_Handler, /* MemManage */
    (uintptr_t)Default_Handler, /* BusFault */
    (uintptr_t)Default_Handler, /* UsageFault */
    0, 0, 0, 0,
    (uintptr_t)Default_Handler, /* SVCall */
    (uintptr_t)Default_Handler, /* DebugMonitor */
    0,
    (uintptr_t)Default_Handler, /* PendSV */
    (uintptr_t)Default_Handler, /* SysTick */
};
